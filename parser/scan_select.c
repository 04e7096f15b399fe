/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
typedef int sluice_placeholder_scan_select;

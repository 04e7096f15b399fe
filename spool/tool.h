/* SPDX-License-Identifier: MIT */
/*
 * tool.h - shared pieces of the sluice-spool command (tool.c): JSON output (tool_json.c).
 */
#ifndef SLUICE_SPOOL_TOOL_H
#define SLUICE_SPOOL_TOOL_H

#include <stdio.h>

#include "spool/spool.h"

/* Writes s as a JSON string (quotes included); see tool_json.c for the escaping rules. */
void tool_json_str(FILE *f, const char *s, size_t n);
/* One message as a JSON object (no trailing newline). */
void tool_json_entry(FILE *f, const struct spool_entry *e);
/* "127.0.0.1:54321", "[::1]:54321" or "unknown". */
void tool_client(char *out, size_t cap, const struct spool_entry *e);

#endif

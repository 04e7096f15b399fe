#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tools/install-deps.sh - install everything Sluice needs to build, run and test on Debian 12.
#
# Installs the build toolchain, the libraries the engine links against, the SMTP peers the
# end-to-end tests drive (swaks, curl, Postfix), and ip/ethtool for the DPDK backend's test
# (network namespaces and a veth pair). Postfix is preseeded as "Local only" so the
# install never prompts, and the system Postfix service is stopped afterwards: the tests start
# private Postfix instances in their own config directories and must not meet a system instance.
#
# Idempotent: when every package is already installed it only makes sure the system Postfix is
# not running, and touches neither the package index nor the network.
# Needs root (or sudo) when something is missing. Exit status: 0, or apt's failure.
set -euo pipefail

packages=(
	meson ninja-build gcc clang pkg-config git
	liburing-dev libinih-dev libjemalloc-dev libhyperscan-dev libdpdk-dev libmicrohttpd-dev
	libclang-rt-14-dev llvm-14 clang-format
	swaks curl python3 postfix iproute2 ethtool
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing+=("$p") ;;
	esac
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix: no questions, local delivery only, no listener on public interfaces.
	printf '%s\n' \
		'postfix postfix/main_mailer_type select Local only' \
		'postfix postfix/mailname string localhost.localdomain' |
		"${sudo_cmd[@]}" debconf-set-selections
	"${sudo_cmd[@]}" apt-get update -q
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null
else
	echo "install-deps: all ${#packages[@]} packages present"
fi

# The system Postfix (started by the package's maintainer scripts where an init system runs)
# is not used: stop it and keep it from starting at boot. The tests run their own instances.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	"${sudo_cmd[@]}" systemctl disable --now postfix.service >/dev/null 2>&1 || true
fi
if command -v postfix >/dev/null 2>&1 && "${sudo_cmd[@]}" postfix status >/dev/null 2>&1; then
	echo "install-deps: stopping the system Postfix instance"
	"${sudo_cmd[@]}" postfix stop >/dev/null 2>&1 || true
fi
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tools/run.sh - install dependencies, build, and run sluiced in the foreground on the default
# backend (kernel sockets through io_uring), listening on 127.0.0.1:2525 with its spool in
# ./spool-data (relative to the repository root). Stop it with Ctrl-C (SIGINT) or SIGTERM.
#
# Environment: SLUICE_LISTEN (default 127.0.0.1:2525), SLUICE_SPOOL_DIR (default
# ./spool-data), SLUICE_HOSTNAME (default: this host's name), SLUICE_BUILD_DIR (default build),
# SLUICE_USER (default "-": keep the current user; as root, sluiced would otherwise switch to
# nobody, who usually cannot reach a spool inside a home directory), SLUICE_SKIP_INSTALL=1.
# Extra arguments are passed to sluiced (see sluiced --help and docs/CONFIG.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${SLUICE_SKIP_INSTALL:-0}" != 1 ]; then
	tools/install-deps.sh
fi
build=${SLUICE_BUILD_DIR:-build}
if [ -f "$build/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$build" >/dev/null
else
	meson setup "$build"
fi
ninja -C "$build" dataplane/sluiced spool/sluice-spool
spool=${SLUICE_SPOOL_DIR:-./spool-data}
mkdir -p "$spool"
echo "sluiced: listening on ${SLUICE_LISTEN:-127.0.0.1:2525}, spool in $spool"
exec "$build"/dataplane/sluiced --listen "${SLUICE_LISTEN:-127.0.0.1:2525}" --spool "$spool" \
	--hostname "${SLUICE_HOSTNAME:-$(hostname)}" --user "${SLUICE_USER:--}" "$@"

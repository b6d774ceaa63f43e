#!/usr/bin/env bash
# `make run`: serves the example apps when they are built; until then runs
# the tour of processes. TROUPE_* variables pass through to the server.
set -eu
build=${1:-build}
if [[ -x "$build/examples/server" ]]; then
  exec "$build/examples/server" "${@:2}"
fi
exec "$build/examples/processes"

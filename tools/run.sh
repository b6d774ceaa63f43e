#!/usr/bin/env bash
# `make run`: serves the example apps (examples/server). Flags come from
# `make run ARGS="..."`; TROUPE_* environment variables pass through.
set -eu
build=${1:-build}
exec "$build/examples/server" "${@:2}"

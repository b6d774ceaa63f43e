#!/usr/bin/env bash
# Checks that pkg-config finds every module named as an argument; if not,
# names the missing ones and how to get them, and fails. Run before any
# object is compiled: building never installs packages (only `make deps`,
# and the targets that call it, do).
set -u
if ! command -v pkg-config >/dev/null; then
  echo "error: pkg-config is not installed (needed to find: $*)." >&2
  echo "  Debian/Ubuntu: make deps; elsewhere: install pkg-config (or pkgconf)." >&2
  exit 1
fi
missing=()
for module in "$@"; do
  pkg-config --exists "$module" || missing+=("$module")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
cat >&2 <<MSG
error: pkg-config cannot find these modules: ${missing[*]}
  Debian/Ubuntu: run \`make deps\` (installs what is missing, with sudo when not root).
  Elsewhere: install your distribution's development packages for them, or point
  PKG_CONFIG_PATH at the directory holding their .pc files.
MSG
exit 1

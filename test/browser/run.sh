#!/usr/bin/env bash
# The browser test, with what it needs: Debian's chromium (never a
# downloaded browser), Node.js, and playwright-core from the committed lock.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
need=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
bash "$here/../../tools/deps.sh" "${need[@]}"
if [[ ! -d $here/node_modules/playwright-core ]]; then
  npm ci --prefix "$here" --no-audit --no-fund >/dev/null
fi
timeout 120 node "$here/chat.mjs" "$build/examples/server"
exec timeout 90 node "$here/game.mjs" "$build/examples/server"

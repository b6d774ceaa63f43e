#!/usr/bin/env bash
# Runs each CppUTest suite binary given as an argument (then $EXTRA_TEST, a
# command counted as one test), echoes its output, and
# ends with one plain line "N passed, N failed" (also written to
# $BUILD/test-summary for .ci/run). A suite that crashes counts as a failure.
set -u
build=${BUILD:-build}
passed=0 failed=0
failures=()
for bin in "$@"; do
  name=$(basename "$bin")
  echo "== $name"
  log="$build/test/$name.log"
  "$bin" -v >"$log" 2>&1
  rc=$?
  grep -vE '^TEST\(.*\) - [0-9]+ ms$' "$log" | tail -n 40
  ran=$(grep -oE '[0-9]+ ran' "$log" | tail -n 1 | grep -oE '[0-9]+')
  fails=$(grep -oE '^Errors \([0-9]+ failures' "$log" | tail -n 1 | grep -oE '[0-9]+')
  ran=${ran:-0} fails=${fails:-0}
  if [[ $rc -ne 0 && $fails -eq 0 ]]; then
    echo "$name: exited with status $rc (crash or sanitizer report)"
    fails=1
  fi
  if [[ $fails -ne 0 ]]; then
    failures+=("$name: $(grep -E -A3 '^[^ ]*:[0-9]+: error: Failure in TEST' "$log" | head -n 8 | tr '\n' ' ')")
    [[ $rc -ne 0 ]] && failures+=("$name: exit status $rc; last lines: $(tail -n 3 "$log" | tr '\n' ' ')")
  fi
  passed=$((passed + ran - fails)) failed=$((failed + fails))
  (( passed < 0 )) && passed=0
done
# A whole-program test (the browser test) counts as one test.
if [[ -n ${EXTRA_TEST:-} ]]; then
  echo "== $EXTRA_TEST"
  if $EXTRA_TEST; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$EXTRA_TEST failed"); fi
fi
# The failures again, last, so that a log cut to its end still names them.
for f in "${failures[@]}"; do echo "FAILED $f"; done
echo "$passed $failed" >"$build/test-summary"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_S seconds over a copy of its committed
# corpus and prints one line per target:
#   fuzz target=NAME execs=N crashes=N
# Exits 1 if any target crashed; the input is left under BUILD/crashes/NAME/.
# Usage: FUZZ_S=10 fuzz/run.sh BUILD NAME...
set -u
build=$1
shift
seconds=${FUZZ_S:-10}
failed=0
for name in "$@"; do
  work=$build/work/$name
  crashes=$build/crashes/$name
  rm -rf "$work" && mkdir -p "$work/corpus" "$crashes"
  if [ -d "fuzz/corpus/$name" ]; then cp -r "fuzz/corpus/$name/." "$work/corpus/"; fi
  before=$(find "$crashes" -type f | wc -l)
  "$build/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work/corpus" >"$work/log" 2>&1
  status=$?
  # libFuzzer's count of inputs run: the final stats, else its last status line.
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$work/log" | tail -n 1)
  [ -n "$execs" ] || execs=0
  found=$(($(find "$crashes" -type f | wc -l) - before))
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
  echo "fuzz target=$name execs=$execs crashes=$found"
  if [ "$found" -ne 0 ]; then
    failed=1
  fi
done
exit $failed

#!/usr/bin/env bash
# `make bench`: runs every Troupe workload REPS times (interleaved, each in
# its own OS process, as the peer kit does), prints each raw line with
# rep= and peak_rss_kb=, then one median line per configuration.
#
#   make bench                 # 3 reps
#   REPS=1 QUICK=1 make bench  # smoke run with small sizes
#   PEERS=1 make bench         # also run ../shared/bench-peers/actors in the same go
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
reps=${REPS:-3}
quick=${QUICK:-0}
out=${OUT:-$build/bench-results.txt}
kit=$here/../../shared/bench-peers/actors

quick_flag=""
if [[ $quick == 1 ]]; then
  quick_flag="--quick"
  spawn_ns="10000 100000"; hops=1000000; pp=100000; per=1000; crashes=5000; rounds=5; reg=10000
else
  spawn_ns="100000 1000000"; hops=10000000; pp=1000000; per=10000; crashes=100000; rounds=100; reg=100000
fi

# Runs one program, appending rep= and the whole program's peak RSS.
run_one() {
  local rep=$1; shift
  local tf lines peak
  tf=$(mktemp)
  if [[ -x /usr/bin/time ]]; then
    lines=$(timeout 300 /usr/bin/time -v -o "$tf" "$@")
    peak=$(awk -F': ' '/Maximum resident/ {print $2}' "$tf")
  else
    lines=$(timeout 300 "$@")
  fi
  grep '^peer=' <<<"$lines" | sed "s/\$/ rep=$rep${peak:+ peak_rss_kb=$peak}/"
  rm -f "$tf"
}

actors=$build/bench/actors_bench
: >"$out"
for rep in $(seq 1 "$reps"); do
  {
    for n in $spawn_ns; do run_one "$rep" "$actors" --bench=spawn --n="$n"; done
    for s in 2 1; do
      run_one "$rep" "$actors" --bench=ring --sched=$s --hops="$hops"
      run_one "$rep" "$actors" --bench=pingpong --sched=$s --n="$pp"
      run_one "$rep" "$actors" --bench=fanin --sched=$s --per_sender="$per"
    done
    run_one "$rep" "$actors" --bench=fanin --sched=2 --placement=spread --per_sender="$per"
    run_one "$rep" "$actors" --bench=fanin --sched=2 --bounded=100000 --per_sender="$per"
    for s in 0 1; do  # 0: one scheduler per core (the default), 1: beside Erlang's +S 1
      run_one "$rep" "$build/bench/sup_bench" --bench=sup --sched=$s --crashes="$crashes" --rounds="$rounds"
    done
    run_one "$rep" "$build/bench/sup_bench" --bench=registry --n="$reg"
    run_one "$rep" "$build/bench/sup_bench" --bench=call
    run_one "$rep" "$build/bench/snapshot_store" ${quick_flag}
    if [[ -x $build/bench/resume_bench ]]; then
      run_one "$rep" "$build/bench/resume_bench" ${quick_flag}
    fi
    if [[ -x $build/bench/cluster_claim ]]; then
      run_one "$rep" "$build/bench/cluster_claim" ${quick_flag}
    fi
    if [[ -x $build/bench/cluster_link ]]; then
      run_one "$rep" "$build/bench/cluster_link" ${quick_flag}
    fi
  } | tee -a "$out"
done

echo "# medians over $reps reps (also in $build/bench-medians.txt)"
if [[ -f $kit/summarize.awk ]]; then
  awk -f "$kit/summarize.awk" "$out" | tee "$build/bench-medians.txt"
fi
if [[ ${PEERS:-0} == 1 && -f $kit/run.sh ]]; then
  # The kit writes next to itself; run a private copy so shared/ stays read-only.
  tmp=$(mktemp -d)
  cp -r "$kit" "$tmp/actors"
  REPS=$reps QUICK=$quick OUT="$(pwd)/$build/peer-results.txt" bash "$tmp/actors/run.sh"
  rm -rf "$tmp"
  python3 "$here/table.py" "$build/bench-medians.txt" "$build/peer-results.txt"
fi

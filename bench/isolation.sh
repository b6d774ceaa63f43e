#!/usr/bin/env bash
# `make bench-isolation` (issue #17): can one computing session stall the
# others, and what does the isolation cost? See bench/README.md.
#
#   bench/isolation.sh BUILD_DIR [WS_KIT_DIR]
#
# 1. The scenario, isolation=on then off: ws_server --schedulers=2 on a free
#    loopback port, bench/isolation_client.py against it (20 echo clients,
#    one 2,000 ms /spin), one bench=isolation line each.
# 2. The cost, on against off, 3 reps alternating, medians:
#    - ws echo throughput: the ws kit's wsload echo workload (200 conns, 3 s),
#      pinned as make bench-ws pins it (client on CPU 0, server on CPU 1);
#      skipped with a note when the kit is not there;
#    - ring: actors_bench --bench=ring --sched=2, watchdog on/off.
#    The ratio is the median of each rep's on/off ratio (a rep's two runs are
#    back to back, so a slow spell of a shared machine hits both), beside the
#    plain medians of each side.
# Every step is bounded by `timeout`; servers are killed on any exit.
set -uo pipefail
build=${1:?usage: isolation.sh BUILD_DIR [WS_KIT_DIR]}
kit=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
reps=${ISOLATION_REPS:-3}
tmp=$(mktemp -d /tmp/bench-isolation.XXXXXX)
server_pid=""

cleanup() {
  if [[ -n $server_pid ]]; then kill -9 "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server ISOLATION [taskset prefix...]: sets $port and $server_pid.
start_server() {
  local iso=$1; shift
  port=$(free_port)
  "$@" "$build/bench/ws_server" --port="$port" ${schedulers_flag:-} --isolation="$iso" \
    2>>"$tmp/server-$iso.log" &
  server_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench-isolation: ws_server (isolation=$iso) did not listen on $port:" >&2
  cat "$tmp/server-$iso.log" >&2
  return 1
}

stop_server() {
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "# ws_server (isolation=$1) did not exit within 5 s of SIGTERM: killed" >&2
    kill -9 "$server_pid" 2>/dev/null
  fi
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

# median: of the positive numbers on stdin (a failed run is written as 0).
median() { awk '$1 + 0 > 0' | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "none"}'; }
# order REP: on first in odd reps, off first in even ones.
order() { if (($1 % 2)); then echo on off; else echo off on; fi; }
# paired_ratio ON_FILE OFF_FILE: the median of line-by-line on/off ratios.
paired_ratio() {
  paste "$1" "$2" | awk '$1 + 0 > 0 && $2 + 0 > 0 {printf "%.4f\n", $1 / $2}' | median |
    awk '{if ($1 == "none") print; else printf "%.3f", $1}'
}
field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2; exit}'; }

status=0
echo "# bench-isolation on $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

# 1. The scenario.
schedulers_flag=--schedulers=2
for iso in on off; do
  start_server "$iso" || { status=1; continue; }
  timeout 60 "$py" "$here/isolation_client.py" --port="$port" --tag="isolation=$iso" || status=1
  stop_server "$iso"
  if grep -q 'watchdog' "$tmp/server-$iso.log"; then
    sed -n 's/^/#   server: /p' "$tmp/server-$iso.log" | grep watchdog | head -4
  fi
done

# 2a. Echo throughput, pinned as make bench-ws runs it; the server takes the
# scheduler count it defaults to on the CPUs it is given (one).
if [[ -n $kit && -f $kit/wsload.c ]] && cp -r "$kit" "$tmp/ws" && make -s -C "$tmp/ws" wsload >/dev/null; then
  schedulers_flag=""
  pin_client=() pin_server=()
  if taskset -c 0,1 true 2>/dev/null; then pin_client=(taskset -c 0) pin_server=(taskset -c 1); fi
  for rep in $(seq "$reps"); do
    for iso in $(order "$rep"); do
      start_server "$iso" "${pin_server[@]}" || { status=1; echo 0 >>"$tmp/echo-$iso"; continue; }
      line=$(timeout 30 "${pin_client[@]}" "$tmp/ws/wsload" echo --port "$port" --conns 200 --rooms 0 \
        --size 64 --inflight 1 --duration 3 --warmup 1 --name "troupe-isolation-$iso" --quiet 2>>"$tmp/wsload.err")
      stop_server "$iso"
      msgs=$(echo "$line" | field msgs_per_s)
      echo "${msgs:-0}" >>"$tmp/echo-$iso"
      echo "#   rep=$rep isolation=$iso ws_echo msgs_per_s=$(echo "$line" | field msgs_per_s)" \
        "p99_us=$(echo "$line" | field p99_us)"
    done
  done
  on=$(median <"$tmp/echo-on") off=$(median <"$tmp/echo-off")
  echo "bench=isolation_cost ws_echo_on=$on ws_echo_off=$off ws_echo_ratio=$(paired_ratio "$tmp/echo-on" "$tmp/echo-off")"
else
  echo "# bench=isolation_cost ws_echo: skipped (no ws kit at '${kit}', or wsload did not build)"
fi

# 2b. Ring, watchdog on and off.
for rep in $(seq "$reps"); do
  for wd in $(order "$rep"); do
    line=$(timeout 60 "$build/bench/actors_bench" --bench=ring --sched=2 --hops=10000000 --watchdog="$wd")
    hops=$(echo "$line" | field hops_per_s)
    echo "${hops:-0}" >>"$tmp/ring-$wd"
    echo "#   rep=$rep watchdog=$wd ring hops_per_s=$(echo "$line" | field hops_per_s)"
  done
done
on=$(median <"$tmp/ring-on") off=$(median <"$tmp/ring-off")
echo "bench=isolation_cost ring_on=$on ring_off=$off ring_ratio=$(paired_ratio "$tmp/ring-on" "$tmp/ring-off")"
exit $status

#!/usr/bin/env bash
# TLS beside plain on the WebSocket bench server (bench/README.md, "TLS").
# Builds nothing: run `make build/bench/ws_server build/bench/tls_load` first.
#
#   BUILD=build bash bench/tls.sh [--seconds=S] [--threads=T] [--connections=C] [--size=B]
#
# Makes a P-256 certificate for localhost with the openssl tool, then runs
# bench/tls_load.cpp against ws_server twice, on loopback: without TLS, then
# with --tls-cert/--tls-key. The server gets one scheduler and, when the
# machine has two CPUs or more, CPU 1 (the client CPU 0), as make bench-ws
# pins them. Prints two lines, bench=plain ... and bench=tls ....
set -euo pipefail
build=${BUILD:-build}
server_bin=$build/bench/ws_server
load_bin=$build/bench/tls_load
for bin in "$server_bin" "$load_bin"; do
  [[ -x $bin ]] || { echo "tls.sh: $bin missing (make $bin)" >&2; exit 2; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/troupe-tls-bench-XXXXXX")
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null

pin_server=() pin_client=()
if command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
  pin_server=(taskset -c 1) pin_client=(taskset -c 0)
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

run() {  # run <label> [server flags...]
  local port
  port=$(free_port)
  "${pin_server[@]}" "$server_bin" --port="$port" --schedulers=1 "${@:2}" 2>"$dir/server.log" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q listening "$dir/server.log" 2>/dev/null && break
    sleep 0.05
  done
  local tls_flags=()
  [[ $1 == tls ]] && tls_flags=(--tls --ca="$dir/cert.pem")
  "${pin_client[@]}" "$load_bin" --port="$port" "${tls_flags[@]}" "${LOAD_ARGS[@]}"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

LOAD_ARGS=("$@")
run plain
run tls --tls-cert="$dir/cert.pem" --tls-key="$dir/key.pem"

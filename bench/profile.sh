#!/usr/bin/env bash
# Where the gateway's CPU goes: 32 connections of non-streaming requests (wrk, closed loop)
# through Switchyard to the simulated provider; prints requests/s, the gateway's CPU per request
# (utime+stime from /proc over the measured run) and its peak RSS. With PERF=1 it also samples
# the gateway with `perf record` (cpu-clock, DWARF call graphs) and prints the hottest symbols,
# self and with children. Build with symbols for readable frames:
#
#   CARGO_PROFILE_RELEASE_DEBUG=1 cargo build --release -p switchyard
#   PERF=1 bench/profile.sh [SECS]        (default 8; needs wrk, and perf for PERF=1)
#
# Pinning: the gateway on core 1, the simulated provider and wrk on core 0. Ports 19400-19401.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SWITCHYARD_BIN:-$ROOT/target/release/switchyard}"
. "$ROOT/bench/sim.sh"
SECS="${1:-8}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchyard" >&2; exit 2; }
W="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
taskset -c 0 "$BIN" mock --listen 127.0.0.1:19400 >"$W/mock.log" 2>&1 & PIDS+=($!)
sim_config "$W/sy.toml" 19401 19400 "$W/sy.db"
RUST_LOG=warn taskset -c 1 "$BIN" serve --config "$W/sy.toml" >"$W/gw.log" 2>&1 & GP=$!; PIDS+=("$GP")
wait_http http://127.0.0.1:19401/health
post_lua "$W/post.lua"
URL=http://127.0.0.1:19401/v1/chat/completions
taskset -c 0 wrk -t1 -c32 -d3s -s "$W/post.lua" "$URL" >/dev/null   # warm-up
ticks() { awk '{print $14+$15}' "/proc/$GP/stat"; }
T0=$(ticks)
if [ "${PERF:-0}" = 1 ]; then
  perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$GP" -o "$W/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
  PP=$!
fi
taskset -c 0 wrk -t1 -c32 -d"${SECS}s" -s "$W/post.lua" "$URL" > "$W/wrk.txt"
T1=$(ticks)
N=$(awk '/requests in/{print $1}' "$W/wrk.txt")
HZ=$(getconf CLK_TCK)
grep -E 'Requests/sec|Non-2xx' "$W/wrk.txt" || true
awk -v t=$((T1 - T0)) -v n="$N" -v hz="$HZ" 'BEGIN{printf "gateway CPU: %.1f us per request (%d requests)\n", t/hz/n*1e6, n}'
grep VmHWM "/proc/$GP/status"
if [ "${PERF:-0}" = 1 ]; then
  wait "$PP" || true
  echo "--- self"
  perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30 || true
  echo "--- with children (our code and its libraries)"
  perf report -i "$W/perf.data" --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
    | grep -E 'sy_|serde|hyper|axum|sqlx|sqlite|eventsource|metrics' | head -40 || true
  # PERF_KEEP=FILE keeps the samples for `perf report -i FILE`
  if [ -n "${PERF_KEEP:-}" ]; then cp "$W/perf.data" "$PERF_KEEP"; fi
fi

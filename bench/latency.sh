#!/usr/bin/env bash
# Added latency of a non-streaming request through Switchyard versus straight to the simulated
# provider, measured with `wrk` (Debian package) on one connection, one request at a time:
# median and p99 over every request of a SECS-second run (thousands of requests).
#
#   bench/latency.sh [SECS]       (default 15; needs target/release/switchyard)
#
# Pinning: the simulated provider and the load tool on core 0, the gateway on core 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/switchyard"
. "$ROOT/bench/sim.sh"
SECS="${1:-15}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchyard" >&2; exit 2; }
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
MOCK_PORT=19100 GW_PORT=19101
taskset -c 0 "$BIN" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 & PIDS+=($!)
sim_config "$WORK/switchyard.toml" "$GW_PORT" "$MOCK_PORT" "$WORK/switchyard.db"
RUST_LOG=warn taskset -c 1 "$BIN" serve --config "$WORK/switchyard.toml" >"$WORK/gw.log" 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$GW_PORT/health"
wait_http "http://127.0.0.1:$MOCK_PORT/health"
post_lua "$WORK/post.lua"
run() { wrk_c1 "$1" "$WORK/post.lua" "$SECS" "$WORK/out.txt"; }  # url -> "p50_ms p99_ms requests"
read -r d50 d99 dn < <(run "http://127.0.0.1:$MOCK_PORT/p/sim/v1/chat/completions")
read -r g50 g99 gn < <(run "http://127.0.0.1:$GW_PORT/api/v1/chat/completions")
printf '| path | requests | p50 ms | p99 ms |\n|---|---:|---:|---:|\n'
printf '| direct to simulated provider | %s | %s | %s |\n' "$dn" "$d50" "$d99"
printf '| through switchyard | %s | %s | %s |\n' "$gn" "$g50" "$g99"
awk -v a="$g50" -v b="$d50" -v c="$g99" -v d="$d99" 'BEGIN{printf "| **added by switchyard** | | %.3f | %.3f |\n", a-b, c-d}'

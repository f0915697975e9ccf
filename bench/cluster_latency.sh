#!/usr/bin/env bash
# What `[cluster]` adds to a request: the same gateway, the same simulated provider, one user key
# with a spend limit and a requests-per-minute allowance (so every request is admitted by the
# Lua script on Redis and charged there), measured alone and with `[cluster] redis_url`.
# `wrk` on one connection, one request at a time; median and p99 over every request.
#
#   bench/cluster_latency.sh [SECS]     (default 15; needs target/release/switchyard, wrk, Redis
#                                        on 127.0.0.1:6379 — database 15 is flushed)
#
# Pinning: the simulated provider and wrk on core 0; the gateway on core 1; Redis wherever the
# system runs it (as it would be in production: another process on the network).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/switchyard"
. "$ROOT/bench/sim.sh"
SECS="${1:-15}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchyard" >&2; exit 2; }
redis-cli -n 15 flushdb >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 2; }
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
MOCK_PORT=19150 GW_PORT=19151 MASTER=sk-bench-master
taskset -c 0 "$BIN" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 & PIDS+=($!)

measure() {  # $1: extra TOML, $2: result file <- "p50_ms p99_ms requests"
  sim_config "$WORK/switchyard.toml" "$GW_PORT" "$MOCK_PORT" "$WORK/switchyard.db" \
    "$(printf '[auth]\nmaster_key = "%s"\n%s' "$MASTER" "$1")"
  RUST_LOG=warn taskset -c 1 "$BIN" serve --config "$WORK/switchyard.toml" >"$WORK/gw.log" 2>&1 &
  local gw=$!
  PIDS+=("$gw")
  wait_http "http://127.0.0.1:$GW_PORT/health"
  local key
  key=$(curl -sf "http://127.0.0.1:$GW_PORT/api/v1/keys" -H "authorization: Bearer $MASTER" \
        -d '{"label":"bench","limit":1000000,"rpm":1000000}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  post_lua "$WORK/post.lua" "$key"
  wrk_c1 "http://127.0.0.1:$GW_PORT/api/v1/chat/completions" "$WORK/post.lua" "$SECS" "$WORK/out.txt" > "$2"
  kill "$gw"; wait "$gw" 2>/dev/null || true
  rm -f "$WORK"/switchyard.db*
}
wait_http "http://127.0.0.1:$MOCK_PORT/health"
measure "" "$WORK/single.txt"
measure $'[cluster]\nredis_url = "redis://127.0.0.1:6379/15"' "$WORK/cluster.txt"
read -r s50 s99 sn < "$WORK/single.txt"
read -r c50 c99 cn < "$WORK/cluster.txt"
printf '| gateway | requests | p50 ms | p99 ms |\n|---|---:|---:|---:|\n'
printf '| single instance | %s | %s | %s |\n' "$sn" "$s50" "$s99"
printf '| with [cluster] (Redis) | %s | %s | %s |\n' "$cn" "$c50" "$c99"
awk -v a="$c50" -v b="$s50" -v c="$c99" -v d="$s99" 'BEGIN{printf "| **added by [cluster]** | | %.3f | %.3f |\n", a-b, c-d}'

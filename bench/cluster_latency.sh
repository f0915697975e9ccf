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

config() {  # $1: extra TOML
  cat > "$WORK/switchyard.toml" <<TOML
[server]
listen = "127.0.0.1:$GW_PORT"
[auth]
master_key = "$MASTER"
[storage]
url = "sqlite://$WORK/switchyard.db"
$1
[[providers]]
name = "sim"
base_url = "http://127.0.0.1:$MOCK_PORT/p/sim/v1"
[[models]]
id = "bench/model"
context_length = 32768
  [[models.endpoints]]
  provider = "sim"
  upstream_model = "sim-model"
  prompt_price = 0.15
  completion_price = 0.60
TOML
}

BODY='{"model":"bench/model","messages":[{"role":"system","content":"You are a concise assistant for a customer support team."},{"role":"user","content":"Summarise the refund policy for annual plans in two sentences."}],"temperature":0.2,"max_tokens":128}'
ms() {  # wrk's "123.45us" / "1.23ms" / "1.2s" -> milliseconds
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else {sub(/s$/,"",v); print v*1000} }'
}
measure() {  # $1: extra TOML, $2: result file <- "p50_ms p99_ms requests"
  config "$1"
  RUST_LOG=warn taskset -c 1 "$BIN" serve --config "$WORK/switchyard.toml" >"$WORK/gw.log" 2>&1 &
  local gw=$!
  PIDS+=("$gw")
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$GW_PORT/health" && break; sleep 0.1; done
  local key
  key=$(curl -sf "http://127.0.0.1:$GW_PORT/api/v1/keys" -H "authorization: Bearer $MASTER" \
        -d '{"label":"bench","limit":1000000,"rpm":1000000}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.body = '$BODY'
LUA
  local url="http://127.0.0.1:$GW_PORT/api/v1/chat/completions"
  taskset -c 0 wrk -t1 -c1 -d2s -s "$WORK/post.lua" "$url" >/dev/null
  taskset -c 0 wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$url" > "$WORK/out.txt"
  if grep -q "Non-2xx" "$WORK/out.txt"; then cat "$WORK/out.txt" >&2; exit 1; fi
  kill "$gw"; wait "$gw" 2>/dev/null || true
  rm -f "$WORK"/switchyard.db*
  echo "$(ms "$(awk '$1=="50%"{print $2}' "$WORK/out.txt")") $(ms "$(awk '$1=="99%"{print $2}' "$WORK/out.txt")") $(awk '/requests in/{print $1}' "$WORK/out.txt")" > "$2"
}
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$MOCK_PORT/health" && break; sleep 0.1; done
measure "" "$WORK/single.txt"
measure $'[cluster]\nredis_url = "redis://127.0.0.1:6379/15"' "$WORK/cluster.txt"
read -r s50 s99 sn < "$WORK/single.txt"
read -r c50 c99 cn < "$WORK/cluster.txt"
printf '| gateway | requests | p50 ms | p99 ms |\n|---|---:|---:|---:|\n'
printf '| single instance | %s | %s | %s |\n' "$sn" "$s50" "$s99"
printf '| with [cluster] (Redis) | %s | %s | %s |\n' "$cn" "$c50" "$c99"
awk -v a="$c50" -v b="$s50" -v c="$c99" -v d="$s99" 'BEGIN{printf "| **added by [cluster]** | | %.3f | %.3f |\n", a-b, c-d}'

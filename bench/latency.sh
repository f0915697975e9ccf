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
SECS="${1:-15}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p switchyard" >&2; exit 2; }
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
MOCK_PORT=19100 GW_PORT=19101
taskset -c 0 "$BIN" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 & PIDS+=($!)
cat > "$WORK/switchyard.toml" <<TOML
[server]
listen = "127.0.0.1:$GW_PORT"
[storage]
url = "sqlite://$WORK/switchyard.db"
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
RUST_LOG=warn taskset -c 1 "$BIN" serve --config "$WORK/switchyard.toml" >"$WORK/gw.log" 2>&1 & PIDS+=($!)
BODY='{"model":"bench/model","messages":[{"role":"system","content":"You are a concise assistant for a customer support team."},{"role":"user","content":"Summarise the refund policy for annual plans in two sentences."}],"temperature":0.2,"max_tokens":128}'
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$GW_PORT/health" && curl -sf -o /dev/null "http://127.0.0.1:$MOCK_PORT/health" && break
  sleep 0.1
done
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
ms() {  # wrk's "123.45us" / "1.23ms" / "1.2s" -> milliseconds
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else {sub(/s$/,"",v); print v*1000} }'
}
run() {  # url -> "p50_ms p99_ms requests"
  taskset -c 0 wrk -t1 -c1 -d2s -s "$WORK/post.lua" "$1" >/dev/null  # warm-up
  taskset -c 0 wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$1" > "$WORK/out.txt"
  if grep -q "Non-2xx" "$WORK/out.txt"; then cat "$WORK/out.txt" >&2; exit 1; fi
  local p50 p99 n
  p50=$(awk '$1=="50%"{print $2}' "$WORK/out.txt"); p99=$(awk '$1=="99%"{print $2}' "$WORK/out.txt")
  n=$(awk '/requests in/{print $1}' "$WORK/out.txt")
  echo "$(ms "$p50") $(ms "$p99") $n"
}
read -r d50 d99 dn < <(run "http://127.0.0.1:$MOCK_PORT/p/sim/v1/chat/completions")
read -r g50 g99 gn < <(run "http://127.0.0.1:$GW_PORT/api/v1/chat/completions")
printf '| path | requests | p50 ms | p99 ms |\n|---|---:|---:|---:|\n'
printf '| direct to simulated provider | %s | %s | %s |\n' "$dn" "$d50" "$d99"
printf '| through switchyard | %s | %s | %s |\n' "$gn" "$g50" "$g99"
awk -v a="$g50" -v b="$d50" -v c="$g99" -v d="$d99" 'BEGIN{printf "| **added by switchyard** | | %.3f | %.3f |\n", a-b, c-d}'

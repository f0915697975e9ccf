#!/usr/bin/env bash
# Where the gateway's memory goes: a heap profile (heaptrack) of Switchyard holding STREAMS
# concurrent slow streams (48 chunks at 4 a second, ~12 s each), then SECS seconds of
# non-streaming requests on 32 connections. Prints the allocation sites holding the most at the
# peak, and what was still held at exit after the load (growth that is not a cache shows here).
#
#   CARGO_PROFILE_RELEASE_DEBUG=1 cargo build --release -p switchyard --features system-alloc \
#     --target-dir target/heap
#   bench/heap.sh [STREAMS] [SECS]        (defaults 1000 and 10; needs heaptrack and wrk)
#
# `system-alloc` keeps glibc's malloc, which heaptrack interposes (mimalloc it cannot see).
# Pinning: the gateway on core 1, the simulated provider and the load on core 0. Ports 19410-19411.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SWITCHYARD_BIN:-$ROOT/target/heap/release/switchyard}"
. "$ROOT/bench/sim.sh"
STREAMS="${1:-1000}"
SECS="${2:-10}"
LG="$ROOT/bench/loadgen/target/release/sy-loadgen"
command -v heaptrack >/dev/null || { echo "heaptrack not found: apt-get install heaptrack" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build first (see the top of this script)" >&2; exit 2; }
[ -x "$LG" ] || cargo build --release --manifest-path "$ROOT/bench/loadgen/Cargo.toml" >&2
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
W="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

long_text="$(for i in $(seq -w 0 47); do printf 'w%s ' "$i"; done)"
cat > "$W/mock.toml" <<TOML
listen = "127.0.0.1:19410"
[[providers]]
name = "long"
tokens_per_s = 4.0
text = "${long_text% }"
[[providers]]
name = "sim"
TOML
taskset -c 0 "$BIN" mock --config "$W/mock.toml" >"$W/mock.log" 2>&1 & PIDS+=($!)
sim_config "$W/sy.toml" 19411 19410 "$W/sy.db" "$(printf '[server]\nmax_connections = %d\n' $((STREAMS + 256)))"
# sim_config wrote its own [server]; keep one table with both keys
python3 - "$W/sy.toml" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
extra = [l for l in t.splitlines() if l.startswith("max_connections")][0]
t = t.replace("[server]\n" + extra + "\n", "", 1).replace("[server]\n", "[server]\n" + extra + "\n", 1)
t += '''
[[providers]]
name = "long"
base_url = "http://127.0.0.1:19410/p/long/v1"
max_concurrency = 100000
[[models]]
id = "bench/long"
context_length = 32768
  [[models.endpoints]]
  provider = "long"
  upstream_model = "long-model"
  prompt_price = 0.15
  completion_price = 0.60
'''
open(p, "w").write(t)
PY
"$BIN" check --config "$W/sy.toml" >/dev/null
RUST_LOG=warn taskset -c 1 heaptrack -o "$W/heap" "$BIN" serve --config "$W/sy.toml" >"$W/gw.log" 2>&1 & HP=$!; PIDS+=("$HP")
wait_http http://127.0.0.1:19411/health
# the gateway itself (heaptrack runs it as a child): the process listening on its port
GP=$(ss -Hltnp 'sport = :19411' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
echo "{\"model\":\"bench/long\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story.\"}]}" > "$W/long.json"
taskset -c 0 "$LG" --url http://127.0.0.1:19411/v1/chat/completions --body-file "$W/long.json" --stream \
  --mode burst --count "$STREAMS" --ramp 5 --timeout 120 --out "$W/streams.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("streams: completed", d["ok"], "of", d["count"], "peak open", d["peak_open_streams"])' "$W/streams.json"
post_lua "$W/post.lua"
taskset -c 0 wrk -t1 -c32 -d"${SECS}s" -s "$W/post.lua" http://127.0.0.1:19411/v1/chat/completions | grep -E 'Requests/sec|Non-2xx' || true
grep -E 'VmHWM|VmRSS' "/proc/$GP/status" 2>/dev/null || true
kill -TERM "$GP" 2>/dev/null || true
for _ in $(seq 300); do kill -0 "$HP" 2>/dev/null || break; sleep 0.1; done
DATA="$(ls "$W"/heap* | grep -E "\.(zst|gz)$" | head -1)"
if [ -n "${HEAP_KEEP:-}" ]; then cp "$DATA" "$HEAP_KEEP"; fi
echo "--- peak: the allocation sites holding the most at the heap's peak"
heaptrack_print -f "$DATA" --print-peaks 1 --print-allocators 0 --print-temporary 0 --print-leaks 0 --peak-limit 15 -s 0 2>/dev/null \
  | sed -n '/MOST MEMORY CONSUMED/,/^$/p;/PEAK MEMORY CONSUMERS/,/^total/p' | head -120
echo "--- summary"
heaptrack_print -f "$DATA" --print-peaks 0 --print-allocators 0 --print-temporary 0 --print-leaks 0 2>/dev/null | tail -8

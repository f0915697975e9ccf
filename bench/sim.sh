# Shared by bench/latency.sh, bench/cluster_latency.sh and bench/profile.sh (sourced, not run):
# one model on the simulated provider, the request body, wrk's POST script, waiting for a port.

# The body every wrk run posts: system + user message, about 300 bytes.
SIM_BODY='{"model":"bench/model","messages":[{"role":"system","content":"You are a concise assistant for a customer support team."},{"role":"user","content":"Summarise the refund policy for annual plans in two sentences."}],"temperature":0.2,"max_tokens":128}'

# sim_config FILE GW_PORT MOCK_PORT DB_PATH [EXTRA_TOML]: a Switchyard config serving
# `bench/model` from the simulated provider `sim`; EXTRA_TOML goes before the providers.
sim_config() {
  cat > "$1" <<TOML
[server]
listen = "127.0.0.1:$2"
[storage]
url = "sqlite://$4"
${5:-}
[[providers]]
name = "sim"
base_url = "http://127.0.0.1:$3/p/sim/v1"
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

# post_lua FILE [AUTHORIZATION]: wrk's script posting SIM_BODY (with a bearer key if given).
post_lua() {
  {
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    [ -n "${2:-}" ] && echo "wrk.headers[\"Authorization\"] = \"Bearer $2\""
    echo "wrk.body = '$SIM_BODY'"
  } > "$1"
}

# wait_http URL: until it answers 2xx (10 s at most).
wait_http() {
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2
  return 1
}

# ms VALUE: wrk's "123.45us" / "1.23ms" / "1.2s" in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else {sub(/s$/,"",v); print v*1000} }'
}

# wrk_c1 URL LUA SECS OUT: a 2 s warm-up, then SECS seconds on one connection, one request at a
# time (load on core 0); prints "p50_ms p99_ms requests"; fails on any non-2xx answer.
wrk_c1() {
  taskset -c 0 wrk -t1 -c1 -d2s -s "$2" "$1" >/dev/null
  taskset -c 0 wrk -t1 -c1 -d"$3s" --latency -s "$2" "$1" > "$4"
  if grep -q "Non-2xx" "$4"; then cat "$4" >&2; return 1; fi
  echo "$(ms "$(awk '$1=="50%"{print $2}' "$4")") $(ms "$(awk '$1=="99%"{print $2}' "$4")") $(awk '/requests in/{print $1}' "$4")"
}

#!/usr/bin/env python3
"""Turns a bench/run results directory into report.md (printed on stdout).

    report.py RESULTS_DIR

Reads <subject>.<phase>.json (sy-loadgen output) and env.txt. "Added" figures are the
subject's percentile minus direct's for the same phase of the same run. Standard library only.
"""
import glob
import json
import os
import sys

out = sys.argv[1]
SUBJECTS = ["direct", "nginx", "switchyard"]
NAMES = {"direct": "direct", "nginx": "nginx proxy", "switchyard": "**switchyard**"}


def load(subject, phase):
    try:
        with open(os.path.join(out, f"{subject}.{phase}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def phase_files(pattern):
    """Result files matching pattern, without the Switchyard store side files."""
    return [p for p in glob.glob(os.path.join(out, pattern)) if not p.endswith(".store.json")]


def load_store(phase):
    try:
        with open(os.path.join(out, f"switchyard.{phase}.store.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(v, nd=2):
    if v is None:
        return "–"
    if isinstance(v, float) and abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.{nd}f}" if isinstance(v, float) else f"{v:,}"


def get(d, *path):
    for p in path:
        if d is None:
            return None
        d = d.get(p) if isinstance(d, dict) else None
    return d


def added(d, base, *path):
    a, b = get(d, *path), get(base, *path)
    if a is None or b is None:
        return None
    return a - b


def mib(kb):
    return None if kb is None else kb / 1024


def busy(d):
    c = get(d, "cores")
    if not c:
        return "–"
    return " / ".join(f"{round(100 * c[k]['busy'])}%" for k in sorted(c))


def success(d):
    if not d or not d["sent"]:
        return "–"
    return f"{100 * d['ok'] / d['sent']:.2f} %".replace("100.00 %", "100 %")


subjects = [s for s in SUBJECTS if phase_files(f"{s}.*.json")]
phases_nonstream = ["c1"] + sorted(
    {os.path.basename(p).split(".")[1] for p in phase_files("*.rate*.json")},
    key=lambda p: int(p[4:]) if p[4:].isdigit() else 0) + ["max"]
lines = []
w = lines.append

w("# Switchyard benchmark")
w("")
try:
    with open(os.path.join(out, "env.txt")) as f:
        w("```")
        w(f.read().rstrip())
        w("```")
except OSError:
    pass
w("")
w("Latencies in ms; *added* = subject minus direct, same phase, same run. CPU = the subject's")
w("utime+stime (its whole process tree) over the phase per successful request; RSS = peak of the")
w("tree's summed VmRSS sampled every 0.2 s. `busy` = core 0 / core 1 busy over the phase")
w("(load generator + upstreams on core 0, subject on core 1).")
w("")

# ------------------------------------------------------------------ non-streaming
w("## Non-streaming (fixed-answer upstream)")
w("")
w("| subject | phase | offered | ok req/s | success | p50 | p99 | added p50 | added p99 | CPU ms/req | peak RSS MiB | busy |")
w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for s in subjects:
    for ph in phases_nonstream:
        d = load(s, ph)
        if not d:
            continue
        base = load("direct", ph) if s != "direct" else None
        offered = f"{d['conns']} conn closed" if d["mode"] == "closed" else f"{num(d['rate'], 0)} req/s open"
        w(f"| {NAMES[s]} | {ph} | {offered} | {num(d['rps_ok'], 0)} | {success(d)} | "
          f"{num(get(d, 'latency_ms', 'p50'))} | {num(get(d, 'latency_ms', 'p99'))} | "
          f"{num(added(d, base, 'latency_ms', 'p50'))} | {num(added(d, base, 'latency_ms', 'p99'))} | "
          f"{num(get(d, 'proc', 'cpu_ms_per_req'), 3)} | {num(mib(get(d, 'proc', 'peak_rss_kb')), 1)} | {busy(d)} |")
w("")

# ------------------------------------------------------------------ 20 ms upstream
w("## Max throughput with a 20 ms upstream (`switchyard mock`, closed loop, raising connections while p99 < 1 s)")
w("")
w("| subject | connections | ok req/s | success | p50 | p99 | CPU ms/req | peak RSS MiB | busy |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
best = {}
for s in subjects:
    runs = []
    for p in phase_files(f"{s}.slow20_c*.json"):
        c = int(p.rsplit("_c", 1)[1].split(".")[0])
        runs.append((c, load(s, f"slow20_c{c}")))
    for c, d in sorted(runs, key=lambda x: x[0]):
        if not d:
            continue
        p99 = get(d, "latency_ms", "p99")
        good = p99 is not None and p99 < 1000 and d["errors"] == 0
        if good and d["rps_ok"] > best.get(s, (0, None))[0]:
            best[s] = (d["rps_ok"], c)
        w(f"| {NAMES[s]} | {c} | {num(d['rps_ok'], 0)} | {success(d)} | {num(get(d, 'latency_ms', 'p50'))} | "
          f"{num(p99)} | {num(get(d, 'proc', 'cpu_ms_per_req'), 3)} | "
          f"{num(mib(get(d, 'proc', 'peak_rss_kb')), 1)} | {busy(d)} |")
w("")
if best:
    w("Best with p99 < 1 s and no errors: " + ", ".join(
        f"{NAMES[s]} {num(v[0], 0)} req/s ({v[1]} conns)" for s, v in best.items()) + ".")
    w("")

# ------------------------------------------------------------------ streaming
w("## Streaming")
w("")
w("`stream_rate`: fixed SSE upstream (20 events at once) at a fixed rate; `stream_paced`: simulated")
w("provider sending 20 content chunks 10 ms apart; `stream_max`: fixed SSE upstream, closed loop.")
w("TTFT = time to the first event with content; a stream counts as ok only with `[DONE]`.")
w("")
w("| subject | phase | offered | ok streams/s | complete | TTFT p50 | TTFT p99 | added TTFT p50 | added TTFT p99 | chunk gap mean | gap p99 | total p50 | total p99 | CPU ms/req | peak RSS MiB |")
w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in subjects:
    for ph in ("stream_rate", "stream_paced", "stream_max"):
        d = load(s, ph)
        if not d:
            continue
        base = load("direct", ph) if s != "direct" else None
        offered = f"{d['conns']} conn closed" if d["mode"] == "closed" else f"{num(d['rate'], 0)}/s open"
        w(f"| {NAMES[s]} | {ph} | {offered} | {num(d['rps_ok'], 0)} | {success(d)} | "
          f"{num(get(d, 'ttft_ms', 'p50'))} | {num(get(d, 'ttft_ms', 'p99'))} | "
          f"{num(added(d, base, 'ttft_ms', 'p50'))} | {num(added(d, base, 'ttft_ms', 'p99'))} | "
          f"{num(get(d, 'gap_ms', 'mean'), 3)} | {num(get(d, 'gap_ms', 'p99'))} | "
          f"{num(get(d, 'latency_ms', 'p50'))} | {num(get(d, 'latency_ms', 'p99'))} | "
          f"{num(get(d, 'proc', 'cpu_ms_per_req'), 3)} | {num(mib(get(d, 'proc', 'peak_rss_kb')), 1)} |")
w("")

# ------------------------------------------------------------------ dialects
DIALECT_PHASES = [  # phase, dialect, endpoint protocol, how, the chat phase it is compared with
    ("d_chat", "chat", "openai", "passed through", "d_chat"),
    ("d_chat_tr", "chat", "anthropic", "translated", "d_chat"),
    ("d_messages", "messages", "anthropic", "passed through", "d_chat"),
    ("d_messages_tr", "messages", "openai", "translated", "d_chat"),
    ("d_responses", "responses", "openai-responses", "passed through", "d_chat"),
    ("d_responses_tr", "responses", "openai", "translated", "d_chat"),
    ("d_chat_stream", "chat, stream", "openai", "passed through", "d_chat_stream"),
    ("d_messages_stream", "messages, stream", "anthropic", "passed through", "d_chat_stream"),
    ("d_messages_tr_stream", "messages, stream", "openai", "translated", "d_chat_stream"),
    ("d_responses_stream", "responses, stream", "openai-responses", "passed through", "d_chat_stream"),
    ("d_responses_tr_stream", "responses, stream", "openai", "translated", "d_chat_stream"),
]
dialect_rows = [(r, load("switchyard", r[0])) for r in DIALECT_PHASES if load("switchyard", r[0])]
if dialect_rows:
    w("## Dialects (Switchyard only)")
    w("")
    w(f"The same question in each client dialect over an instant simulated provider, closed loop;")
    w("*vs chat* = CPU per request over chat's passed-through phase of the same kind (stream or not).")
    w("")
    w("| phase | dialect | endpoint protocol | | ok req/s | success | p50 | p99 | CPU ms/req | vs chat |")
    w("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for (ph, dialect, proto, how, base_ph), d in dialect_rows:
        cpu = get(d, "proc", "cpu_ms_per_req")
        base_cpu = get(load("switchyard", base_ph), "proc", "cpu_ms_per_req")
        ratio = f"{cpu / base_cpu:.2f} ×" if cpu and base_cpu else "–"
        w(f"| {ph} | {dialect} | {proto} | {how} | {num(d['rps_ok'], 0)} | {success(d)} | "
          f"{num(get(d, 'latency_ms', 'p50'))} | {num(get(d, 'latency_ms', 'p99'))} | {num(cpu, 3)} | {ratio} |")
    w("")

# ------------------------------------------------------------------ many streams, soak
st = load("switchyard", "streams")
if st:
    w("## Many concurrent slow streams through one Switchyard")
    w("")
    try:
        with open(os.path.join(out, "switchyard.streams.config.txt")) as f:
            cap = f.read().strip()
    except OSError:
        cap = "max_connections = 4096 (the default)"
    try:
        with open(os.path.join(out, "env.txt")) as f:
            nofile = next((l.split(":", 1)[1].strip() for l in f if l.startswith("nofile:")), "?")
    except OSError:
        nofile = "?"
    w(f"{st['count']:,} streaming requests, each on its own connection, started over 5 s; each upstream")
    w(f"stream is 48 chunks at 4 a second (~12 s). Switchyard's `[server] {cap}`;")
    w(f"open-files limit {nofile} (each stream holds a client and an upstream socket).")
    w("")
    w("| started | completed | errors | statuses | peak open at once | TTFT p50 | TTFT p99 | total p50 | total p99 | wall s | peak RSS MiB | CPU s |")
    w("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    w(f"| {st['sent']:,} | {st['ok']:,} | {st['errors']:,} | {', '.join(f'{k}: {v}' for k, v in st['status'].items())} | "
      f"{st['peak_open_streams']:,} | {num(get(st, 'ttft_ms', 'p50'))} | {num(get(st, 'ttft_ms', 'p99'))} | "
      f"{num(get(st, 'latency_ms', 'p50'))} | {num(get(st, 'latency_ms', 'p99'))} | {num(st['wall_s'], 1)} | "
      f"{num(mib(get(st, 'proc', 'peak_rss_kb')), 1)} | {num(get(st, 'proc', 'cpu_s'))} |")
    if st["status"].get("503"):
        w("")
        w("503: connections beyond Switchyard's `[server] max_connections` are answered 503 and closed;")
        w("the cap bounds how many streams one instance holds.")
    emf = (load_store("streams") or {}).get("emfile_warnings", 0)
    if emf:
        w("")
        w(f"{emf:,} request(s) failed with `Too many open files` in Switchyard (an upstream connection")
        w("could not be opened: the open-files limit, not the gateway, ran out).")
    if st["errors"]:
        w("")
        w(f"First error: `{st['error_detail']['first']}`; detail: {json.dumps(st['error_detail'])}")
    w("")

soak = load("switchyard", "soak")
soak_growth = None
if soak and get(soak, "proc", "rss_series"):
    series = soak["proc"]["rss_series"]
    end_t = series[-1][0]

    def window(lo, hi):
        v = [r for t, r in series if lo <= t <= hi]
        return sum(v) / len(v) if v else None

    at1 = window(55, 65)
    at_end = window(end_t - 10, end_t)
    if at1 and at_end:
        soak_growth = 100 * (at_end - at1) / at1
    s2 = load("switchyard", "soak_streams")
    w("## Soak")
    w("")
    w(f"{soak['duration_s'] / 60:g} min of {num(soak['rate'], 0)} req/s non-streaming"
      + (f" plus {num(s2['rate'], 0)} paced streams/s" if s2 else "") + " through one fresh Switchyard.")
    w("")
    w("| RSS at 1 min MiB | RSS at end MiB | growth | peak RSS MiB | requests ok | errors | p50 | p99 | CPU ms/req |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    errs = soak["errors"] + (s2["errors"] if s2 else 0)
    oks = soak["ok"] + (s2["ok"] if s2 else 0)
    w(f"| {num(mib(at1), 1)} | {num(mib(at_end), 1)} | {num(soak_growth, 1)} % | "
      f"{num(mib(get(soak, 'proc', 'peak_rss_kb')), 1)} | {oks:,} | {errs:,} | "
      f"{num(get(soak, 'latency_ms', 'p50'))} | {num(get(soak, 'latency_ms', 'p99'))} | "
      f"{num(get(soak, 'proc', 'cpu_s') * 1000 / oks if oks else None, 3)} |")
    w("")

# ------------------------------------------------------------------ stalls
stalls = []
for p in sorted(phase_files("*.json")):
    subj, ph = os.path.basename(p).split(".")[:2]
    if ph in ("warmup", "streams") or subj not in subjects:
        continue
    d = load(subj, ph)
    secs = [t for t in (d or {}).get("timeline", []) if t[2] >= 1000]
    if secs and not ph.startswith("slow20"):
        stalls.append(f"{NAMES[subj]} {ph}: answers over 1 s completed in second(s) "
                      + ", ".join(str(t[0]) for t in secs[:8]) + (" …" if len(secs) > 8 else "")
                      + f" of the phase (slowest {max(t[2] for t in secs):,.0f} ms)")
if stalls:
    w("## Stalls")
    w("")
    w("Phases in which some answer took over 1 s (from the per-second `timeline` in each JSON);")
    w("their p99 says more about the machine or the subject's pauses than about steady cost:")
    w("")
    for line in stalls:
        w(f"- {line}")
    w("")

# ------------------------------------------------------------------ Switchyard's store
store_rows = []
for p in sorted(glob.glob(os.path.join(out, "switchyard.*.store.json")), key=os.path.getmtime):
    ph = os.path.basename(p).split(".")[1]
    d = load_store(ph)
    if d:
        store_rows.append((ph, d))
if store_rows:
    w("## Switchyard's generation store (SQLite) per phase")
    w("")
    w("Records are queued for the store off the request path (10,000 at most; beyond that they")
    w("are dropped and logged). Before each phase the run waits for the queue to drain.")
    w("")
    w("| phase | " + " | ".join(ph for ph, _ in store_rows) + " |")
    w("|---|" + "---:|" * len(store_rows))
    w("| records dropped | " + " | ".join(f"{d['dropped']:,}" for _, d in store_rows) + " |")
    w("| queued at the end | " + " | ".join(f"{d['backlog_end']:,}" if d["backlog_end"] >= 0 else "–" for _, d in store_rows) + " |")
    w("")

# ------------------------------------------------------------------ targets
w("## Targets (Switchyard against nginx in this run)")
w("")
w("| target | measured | result |")
w("|---|---|---|")


def row(name, measured, ok):
    res = "–" if ok is None else ("**met**" if ok else "**not met**")
    w(f"| {name} | {measured} | {res} |")


sy_max, ng_max = load("switchyard", "max"), load("nginx", "max")
if sy_max and ng_max:
    r = sy_max["rps_ok"] / ng_max["rps_ok"] if ng_max["rps_ok"] else 0
    row("max req/s on one core ≥ 0.7 × nginx",
        f"{num(sy_max['rps_ok'], 0)} vs {num(ng_max['rps_ok'], 0)} = {r:.2f} ×", r >= 0.7)
    a, b = get(sy_max, "proc", "cpu_ms_per_req"), get(ng_max, "proc", "cpu_ms_per_req")
    if a is not None and b:
        row("CPU per request at max load ≤ 2 × nginx", f"{a:.3f} vs {b:.3f} ms = {a / b:.1f} ×", a <= 2 * b)
else:
    row("max req/s on one core ≥ 0.7 × nginx", "not measured (needs nginx and switchyard)", None)
    row("CPU per request at max load ≤ 2 × nginx", "not measured", None)

r500 = {s: load(s, "rate500") for s in ("direct", "nginx", "switchyard")}
if all(r500.values()):
    sa = added(r500["switchyard"], r500["direct"], "latency_ms", "p50")
    na = added(r500["nginx"], r500["direct"], "latency_ms", "p50")
    row("added p50 at 500 req/s within 0.5 ms of nginx's added p50",
        f"+{sa:.3f} vs +{na:.3f} ms (difference {sa - na:+.3f})", sa - na <= 0.5)
else:
    row("added p50 at 500 req/s within 0.5 ms of nginx's", "not measured (needs direct, nginx, switchyard)", None)

sy_s, ng_s = load("switchyard", "stream_max"), load("nginx", "stream_max")
if sy_s and ng_s:
    r = sy_s["rps_ok"] / ng_s["rps_ok"] if ng_s["rps_ok"] else 0
    row("streaming req/s ≥ 0.5 × nginx, every stream complete",
        f"{num(sy_s['rps_ok'], 0)} vs {num(ng_s['rps_ok'], 0)} = {r:.2f} ×; "
        f"{sy_s['ok']:,} of {sy_s['sent']:,} complete", r >= 0.5 and sy_s["errors"] == 0)
else:
    row("streaming req/s ≥ 0.5 × nginx", "not measured", None)

sy_t, d_t = load("switchyard", "stream_rate"), load("direct", "stream_rate")
if sy_t and d_t:
    a = added(sy_t, d_t, "ttft_ms", "p99")
    row("added TTFT p99 < 1 ms (vs direct)", f"+{a:.3f} ms (p99 {get(sy_t, 'ttft_ms', 'p99')} vs {get(d_t, 'ttft_ms', 'p99')})"
        if a is not None else "–", a is not None and a < 1)
else:
    row("added TTFT p99 < 1 ms", "not measured (needs direct and switchyard)", None)

for ph, label in (("d_messages", "Messages"), ("d_responses", "Responses")):
    d, c = load("switchyard", ph), load("switchyard", "d_chat")
    a, b = get(d, "proc", "cpu_ms_per_req"), get(c, "proc", "cpu_ms_per_req")
    if a and b:
        row(f"a {label} request passed through ≤ 1.3 × a chat request's CPU", f"{a:.3f} vs {b:.3f} ms = {a / b:.2f} ×", a <= 1.3 * b)

peaks = []
for p in phase_files("switchyard.*.json"):
    ph = os.path.basename(p).split(".")[1]
    kb = get(load("switchyard", ph), "proc", "peak_rss_kb")
    if kb and ph not in ("streams", "soak", "soak_streams"):
        peaks.append((kb, ph))
if peaks:
    kb, ph = max(peaks)
    row("peak RSS ≤ 64 MiB (standard phases)", f"{kb / 1024:.1f} MiB (highest in {ph})", kb <= 64 * 1024)
if st:
    pk = get(st, "proc", "peak_rss_kb") or 0
    row(f"{st['count']:,} concurrent streams in < 300 MB, all complete",
        f"{pk * 1024 / 1e6:.0f} MB peak; {st['ok']:,} of {st['count']:,} complete; "
        f"at most {st['peak_open_streams']:,} open at once",
        pk * 1024 < 300e6 and st["ok"] == st["count"])
if soak_growth is not None:
    row(f"soak RSS growth < 5 % ({soak['duration_s'] / 60:g} min vs 1 min)", f"{soak_growth:+.1f} %", soak_growth < 5)
elif soak:
    row("soak RSS growth < 5 %", "soak too short to compare", None)
w("")
w("Raw data: one JSON per subject and phase beside this file (sy-loadgen output), `run.log`, the")
w("subjects' logs.")
print("\n".join(lines))

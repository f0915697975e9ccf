//! sy-loadgen: the load generator of Switchyard's benchmark (`bench/run`).
//!
//! One HTTP/1.1 POST endpoint, keep-alive connections (`TCP_NODELAY`), three ways to load it:
//!
//! * `closed`: `--conns` connections, each sends its next request when the previous answer
//!   is complete, for `--duration` seconds (in-flight requests at the deadline are awaited).
//! * `rate`: open loop at `--rate` requests/s over a pool of `--conns` connections. Request `i`
//!   is due at `start + i / rate`; when no connection is free at that time its latency is
//!   counted from the due time, not from when a connection became free, so a subject that
//!   falls behind is charged its queueing delay (coordinated omission corrected). The timer's
//!   own wake-up lateness is not charged.
//! * `burst`: `--count` requests, each on its own new connection, started evenly over
//!   `--ramp` seconds; meant for many long-lived streams held open at once.
//!
//! With `--stream` the answer is read as server-sent events: time to the first event with
//! non-empty `content` (TTFT), the gaps between content events, and whether `data: [DONE]`
//! arrived (a stream without it is `incomplete`, not ok; a Messages stream's `message_stop` and a
//! Responses stream's `response.completed` count as its `[DONE]`).
//!
//! With `--watch-pid` a thread samples that process and its descendants: CPU seconds
//! (utime + stime from /proc/PID/stat) over the run and summed VmRSS every 0.2 s (peak, end,
//! and with `--rss-series` the whole series). Per-core busy and steal come from /proc/stat.
//!
//! Output: one JSON object (stdout, or `--out FILE`). Percentiles are exact (every sample is
//! kept and sorted), in milliseconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Closed,
    Rate,
    Burst,
}

#[derive(Parser, Debug)]
#[command(about = "Load generator for Switchyard's benchmark")]
struct Args {
    /// Target, e.g. http://127.0.0.1:19210/v1/chat/completions (plain http only).
    #[arg(long)]
    url: String,
    /// Request body (sent as application/json).
    #[arg(long)]
    body_file: String,
    /// Extra header "name: value" (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    #[arg(long, value_enum, default_value = "closed")]
    mode: Mode,
    /// Connections (closed: concurrency; rate: pool size).
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Requests per second (rate mode).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of load (closed and rate modes).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Requests (burst mode).
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Seconds over which burst requests are started.
    #[arg(long, default_value_t = 2.0)]
    ramp: f64,
    /// Read answers as SSE (TTFT, gaps, [DONE]).
    #[arg(long)]
    stream: bool,
    /// Per-request timeout in seconds (connect + answer).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Process whose tree's CPU and RSS are measured (0: none).
    #[arg(long, default_value_t = 0)]
    watch_pid: u32,
    /// Keep every RSS sample in the output (for soak runs).
    #[arg(long)]
    rss_series: bool,
    /// Runtime worker threads (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Label stored in the output.
    #[arg(long, default_value = "")]
    label: String,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    out: Option<String>,
}

/// What one worker (or one burst request) saw.
#[derive(Default)]
struct Stats {
    sent: u64,
    ok: u64,
    lat_us: Vec<u32>,
    ttft_us: Vec<u32>,
    gap_us: Vec<u32>,
    content_events: u64,
    transport: u64,
    timeouts: u64,
    incomplete: u64,
    stream_errors: u64,
    status: BTreeMap<u16, u64>,
    first_error: Option<String>,
    /// Per second of the run (by completion time): answers and the slowest of them, in µs.
    timeline: Vec<(u32, u32)>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.sent += o.sent;
        self.ok += o.ok;
        self.lat_us.extend(o.lat_us);
        self.ttft_us.extend(o.ttft_us);
        self.gap_us.extend(o.gap_us);
        self.content_events += o.content_events;
        self.transport += o.transport;
        self.timeouts += o.timeouts;
        self.incomplete += o.incomplete;
        self.stream_errors += o.stream_errors;
        for (k, v) in o.status {
            *self.status.entry(k).or_default() += v;
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        if self.timeline.len() < o.timeline.len() {
            self.timeline.resize(o.timeline.len(), (0, 0));
        }
        for (i, (n, m)) in o.timeline.into_iter().enumerate() {
            self.timeline[i].0 += n;
            self.timeline[i].1 = self.timeline[i].1.max(m);
        }
    }
    fn note_latency(&mut self, t0: Instant, end: Instant, lat_us: u32) {
        self.lat_us.push(lat_us);
        let sec = end.saturating_duration_since(t0).as_secs() as usize;
        if sec < 100_000 {
            if self.timeline.len() <= sec {
                self.timeline.resize(sec + 1, (0, 0));
            }
            self.timeline[sec].0 += 1;
            self.timeline[sec].1 = self.timeline[sec].1.max(lat_us);
        }
    }
    fn note_error(&mut self, e: String) {
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }
}

struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    body: Bytes,
    headers: Vec<(String, String)>,
    stream: bool,
    timeout: Duration,
    /// Start of the run (for the per-second timeline).
    t0: Instant,
}

fn us(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(t: &Target) -> Request<Full<Bytes>> {
    let mut b = Request::post(t.path.as_str())
        .header("host", t.host.as_str())
        .header("content-type", "application/json");
    if t.stream {
        b = b.header("accept", "text/event-stream");
    }
    for (k, v) in &t.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(t.body.clone())).expect("valid request")
}

/// Finds `"content":"` followed by at least one character of text.
fn has_content(payload: &[u8]) -> bool {
    // chat chunks carry "content", Messages events "text" (text_delta), Responses events "delta"
    [&b"\"content\":\""[..], b"\"text\":\"", b"\"delta\":\""]
        .iter()
        .any(|needle| has_nonempty(payload, needle))
}

/// Whether `needle` (a key and its opening quote) occurs followed by a non-empty string.
fn has_nonempty(payload: &[u8], needle: &[u8]) -> bool {
    let mut i = 0;
    while i + needle.len() < payload.len() {
        if &payload[i..i + needle.len()] == needle {
            if payload[i + needle.len()] != b'"' {
                return true;
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
    false
}

/// How a stream of each dialect says it is complete: chat's `[DONE]`, Messages' `message_stop`
/// event, Responses' `response.completed` event.
fn is_done(payload: &[u8]) -> bool {
    payload == b"[DONE]"
        || contains(payload, b"\"type\":\"message_stop\"")
        || contains(payload, b"\"type\":\"response.completed\"")
}

/// Whether `needle` occurs in `hay` (member order in an event is the renderer's choice).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// An error event of any dialect: chat's `{"error": ...}`, Messages' and Responses' `type: error`
/// (Responses' `response.failed` too).
fn is_error(payload: &[u8]) -> bool {
    payload.starts_with(b"{\"error\"")
        || payload.starts_with(b"{\"type\":\"error\"")
        || contains(payload, b"\"type\":\"response.failed\"")
}

/// How one exchange ended.
enum End {
    /// Connection still usable.
    Reusable,
    /// Drop the connection (transport error, timeout).
    Broken,
}

/// Sends one request on `sender` and records it in `st`; latency counted from `due`.
/// `on_head` runs when the response head arrives (burst mode counts open streams with it).
async fn exchange(
    sender: &mut Sender,
    t: &Target,
    due: Instant,
    st: &mut Stats,
    on_head: &(dyn Fn(bool) + Sync),
) -> End {
    st.sent += 1;
    let deadline = tokio::time::Instant::from_std(Instant::now() + t.timeout);
    let fut = async {
        if let Err(e) = sender.ready().await {
            return Err((false, format!("not ready: {e}")));
        }
        let resp = sender
            .send_request(request(t))
            .await
            .map_err(|e| (false, format!("send: {e}")))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        on_head(true);
        let mut pending: Vec<u8> = Vec::new();
        let mut done = false;
        let mut stream_err = false;
        let mut first: Option<Instant> = None;
        let mut last = due;
        let mut gaps: Vec<u32> = Vec::new();
        let mut events = 0u64;
        let mut bytes = 0usize;
        let sse = t.stream && status == 200;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    on_head(false);
                    return Err((true, format!("body: {e}")));
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            bytes += data.len();
            if !sse {
                continue;
            }
            let now = Instant::now();
            pending.extend_from_slice(&data);
            let mut start = 0;
            while let Some(pos) = pending[start..].iter().position(|&c| c == b'\n') {
                let mut line = &pending[start..start + pos];
                start += pos + 1;
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let Some(rest) = line.strip_prefix(b"data:") else {
                    continue;
                };
                let payload = rest.strip_prefix(b" ").unwrap_or(rest);
                if is_done(payload) {
                    done = true;
                } else if is_error(payload) {
                    stream_err = true;
                } else if has_content(payload) {
                    events += 1;
                    if first.is_none() {
                        first = Some(now);
                    } else {
                        gaps.push(us(now - last));
                    }
                    last = now;
                }
            }
            pending.drain(..start);
        }
        on_head(false);
        Ok((status, bytes, done, stream_err, first, gaps, events))
    };
    match tokio::time::timeout_at(deadline, fut).await {
        Err(_) => {
            st.timeouts += 1;
            st.note_error("timeout".into());
            End::Broken
        }
        Ok(Err((mid_body, e))) => {
            st.transport += 1;
            st.note_error(e);
            let _ = mid_body;
            End::Broken
        }
        Ok(Ok((status, bytes, done, stream_err, first, gaps, events))) => {
            let end = Instant::now();
            *st.status.entry(status).or_default() += 1;
            if !(200..300).contains(&status) {
                st.note_error(format!("HTTP {status}"));
                return End::Reusable;
            }
            if t.stream {
                if stream_err {
                    st.stream_errors += 1;
                }
                if !done || stream_err {
                    st.incomplete += 1;
                    st.note_error(format!(
                        "stream incomplete (done={done}, error_event={stream_err}, {bytes} bytes)"
                    ));
                    return End::Reusable;
                }
                if let Some(f) = first {
                    st.ttft_us.push(us(f - due));
                }
                st.gap_us.extend(gaps);
                st.content_events += events;
            } else if bytes == 0 {
                st.incomplete += 1;
                st.note_error("empty body".into());
                return End::Reusable;
            }
            st.ok += 1;
            st.note_latency(t.t0, end, us(end - due));
            End::Reusable
        }
    }
}

fn no_head(_: bool) {}

/// Why no connection was made.
enum NoConn {
    Refused,
    TimedOut,
}

/// A new connection to the target; a failure counts as one request sent and failed.
async fn connect_counted(t: &Target, st: &mut Stats) -> Result<Sender, NoConn> {
    match tokio::time::timeout(t.timeout, connect(t.addr)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            st.sent += 1;
            st.transport += 1;
            st.note_error(e);
            Err(NoConn::Refused)
        }
        Err(_) => {
            st.sent += 1;
            st.timeouts += 1;
            Err(NoConn::TimedOut)
        }
    }
}

async fn closed_worker(t: Arc<Target>, end: Instant) -> Stats {
    let mut st = Stats::default();
    let mut conn: Option<Sender> = None;
    while Instant::now() < end {
        if conn.is_none() {
            match connect_counted(&t, &mut st).await {
                Ok(c) => conn = Some(c),
                Err(NoConn::Refused) => {
                    // a refused connection fails at once: do not spin on it
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(NoConn::TimedOut) => continue,
            }
        }
        let sender = conn.as_mut().expect("connected");
        if let End::Broken = exchange(sender, &t, Instant::now(), &mut st, &no_head).await {
            conn = None;
        }
    }
    st
}

async fn rate_worker(
    t: Arc<Target>,
    next: Arc<AtomicU64>,
    t0: Instant,
    end: Instant,
    rate: f64,
) -> Stats {
    let mut st = Stats::default();
    let mut conn: Option<Sender> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        if due >= end {
            break;
        }
        // A worker that takes a slot already past due was busy: the wait is the subject's
        // queueing and is charged (latency from `due`). A worker that takes a slot early sleeps
        // to it; the timer's own lateness (tokio's 1 ms granularity) is the generator's, not
        // the subject's, so latency then counts from the actual wake-up.
        let start = if Instant::now() >= due {
            due
        } else {
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            Instant::now()
        };
        if conn.is_none() {
            match connect_counted(&t, &mut st).await {
                Ok(c) => conn = Some(c),
                Err(_) => continue,
            }
        }
        let sender = conn.as_mut().expect("connected");
        if let End::Broken = exchange(sender, &t, start, &mut st, &no_head).await {
            conn = None;
        }
    }
    st
}

struct Gauge {
    now: AtomicU64,
    peak: AtomicU64,
}

async fn burst_one(t: Arc<Target>, due: Instant, gauge: Arc<Gauge>) -> Stats {
    let mut st = Stats::default();
    tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    let started = Instant::now();
    let mut sender = match tokio::time::timeout(t.timeout, connect(t.addr)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            st.sent += 1;
            st.transport += 1;
            st.note_error(e);
            return st;
        }
        Err(_) => {
            st.sent += 1;
            st.timeouts += 1;
            st.note_error("connect timeout".into());
            return st;
        }
    };
    let g = Arc::clone(&gauge);
    let on_head = move |open: bool| {
        if open {
            let n = g.now.fetch_add(1, Ordering::Relaxed) + 1;
            g.peak.fetch_max(n, Ordering::Relaxed);
        } else {
            g.now.fetch_sub(1, Ordering::Relaxed);
        }
    };
    // the remaining time budget includes the connect
    let left = t.timeout.saturating_sub(started.elapsed());
    let t2 = Target {
        addr: t.addr,
        host: t.host.clone(),
        path: t.path.clone(),
        body: t.body.clone(),
        headers: t.headers.clone(),
        stream: t.stream,
        timeout: left,
        t0: t.t0,
    };
    exchange(&mut sender, &t2, started, &mut st, &on_head).await;
    st
}

// ------------------------------------------------------------------ /proc sampling

fn proc_children() -> BTreeMap<u32, Vec<u32>> {
    let mut m: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return m;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(r) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[r + 2..].split_whitespace().collect();
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse::<u32>().ok()) {
            m.entry(ppid).or_default().push(pid);
        }
    }
    m
}

fn proc_tree(pid: u32) -> Vec<u32> {
    if pid == 0 {
        return Vec::new();
    }
    let m = proc_children();
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        out.push(p);
        if let Some(c) = m.get(&p) {
            todo.extend(c);
        }
    }
    out
}

fn cpu_ticks(pids: &[u32]) -> u64 {
    let mut tot = 0;
    for p in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(r) = stat.rfind(')') else { continue };
        let f: Vec<&str> = stat[r + 2..].split_whitespace().collect();
        // after the comm field: [11] utime, [12] stime
        tot += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        tot += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    tot
}

fn rss_kb(pids: &[u32]) -> u64 {
    let mut tot = 0;
    for p in pids {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        if let Some(l) = s.lines().find(|l| l.starts_with("VmRSS:")) {
            tot += l
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    tot
}

/// (total, idle, steal) jiffies per cpuN.
fn core_stat() -> BTreeMap<String, (u64, u64, u64)> {
    let mut m = BTreeMap::new();
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return m;
    };
    for l in s.lines() {
        let mut it = l.split_whitespace();
        let Some(name) = it.next() else { continue };
        if !(name.starts_with("cpu") && name.len() > 3) {
            continue;
        }
        let v: Vec<u64> = it.filter_map(|x| x.parse().ok()).collect();
        if v.len() < 8 {
            continue;
        }
        let total: u64 = v[..8].iter().sum();
        m.insert(name.to_string(), (total, v[3] + v[4], v[7]));
    }
    m
}

fn clk_tck() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux we run on; avoid a libc dependency
    100.0
}

struct Watch {
    cpu_s: f64,
    peak_rss_kb: u64,
    start_rss_kb: u64,
    end_rss_kb: u64,
    series: Vec<(f64, u64)>,
}

fn watch(pid: u32, stop: Arc<AtomicBool>, keep_series: bool) -> std::thread::JoinHandle<Watch> {
    std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut tree = proc_tree(pid);
        let c0 = cpu_ticks(&tree);
        let start_rss = rss_kb(&tree);
        let mut peak = start_rss;
        let mut series = vec![(0.0, start_rss)];
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            n += 1;
            if n.is_multiple_of(10) {
                tree = proc_tree(pid);
            }
            let r = rss_kb(&tree);
            peak = peak.max(r);
            if keep_series {
                series.push((t0.elapsed().as_secs_f64(), r));
            }
        }
        tree = proc_tree(pid);
        let c1 = cpu_ticks(&tree);
        let end_rss = rss_kb(&tree);
        Watch {
            cpu_s: c1.saturating_sub(c0) as f64 / clk_tck(),
            peak_rss_kb: peak.max(end_rss),
            start_rss_kb: start_rss,
            end_rss_kb: end_rss,
            series,
        }
    })
}

// ------------------------------------------------------------------ report

fn pct(sorted: &[u32], q: f64) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[rank - 1])
}

fn ms(v_us: u32) -> Value {
    json!((f64::from(v_us) / 1000.0 * 1000.0).round() / 1000.0)
}

fn summary(v: &mut [u32]) -> Value {
    v.sort_unstable();
    if v.is_empty() {
        return json!({"n": 0});
    }
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64 / 1000.0;
    json!({
        "n": v.len(),
        "mean": (mean * 1000.0).round() / 1000.0,
        "p50": pct(v, 0.50),
        "p90": pct(v, 0.90),
        "p99": pct(v, 0.99),
        "p999": pct(v, 0.999),
        "max": ms(*v.last().unwrap_or(&0)),
    })
}

fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let hp = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&hp)
        .map_err(|e| format!("{hp}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hp}: no address"))?;
    Ok((addr, hostport.to_string(), path))
}

fn main() {
    let a = Args::parse();
    let (addr, host, path) = parse_url(&a.url).unwrap_or_else(|e| {
        eprintln!("sy-loadgen: {e}");
        std::process::exit(2)
    });
    let body = std::fs::read(&a.body_file).unwrap_or_else(|e| {
        eprintln!("sy-loadgen: {}: {e}", a.body_file);
        std::process::exit(2)
    });
    let headers = a
        .headers
        .iter()
        .filter_map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let t0 = Instant::now();
    let target = Arc::new(Target {
        addr,
        host,
        path,
        body: Bytes::from(body),
        headers,
        stream: a.stream,
        timeout: Duration::from_secs_f64(a.timeout),
        t0,
    });

    let rt = if a.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()
    }
    .expect("runtime");

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = (a.watch_pid != 0).then(|| watch(a.watch_pid, Arc::clone(&stop), a.rss_series));
    let cores0 = core_stat();
    let gauge = Arc::new(Gauge {
        now: AtomicU64::new(0),
        peak: AtomicU64::new(0),
    });

    let stats = rt.block_on(async {
        let mut handles = Vec::new();
        match a.mode {
            Mode::Closed => {
                let end = t0 + Duration::from_secs_f64(a.duration);
                for _ in 0..a.conns.max(1) {
                    handles.push(tokio::spawn(closed_worker(Arc::clone(&target), end)));
                }
            }
            Mode::Rate => {
                let end = t0 + Duration::from_secs_f64(a.duration);
                let next = Arc::new(AtomicU64::new(0));
                let start = t0 + Duration::from_millis(5);
                for _ in 0..a.conns.max(1) {
                    handles.push(tokio::spawn(rate_worker(
                        Arc::clone(&target),
                        Arc::clone(&next),
                        start,
                        end,
                        a.rate,
                    )));
                }
            }
            Mode::Burst => {
                let n = a.count.max(1);
                for i in 0..n {
                    let due = t0 + Duration::from_secs_f64(a.ramp * i as f64 / n as f64);
                    handles.push(tokio::spawn(burst_one(
                        Arc::clone(&target),
                        due,
                        Arc::clone(&gauge),
                    )));
                }
            }
        }
        let mut all = Stats::default();
        for h in handles {
            if let Ok(s) = h.await {
                all.merge(s);
            }
        }
        all
    });
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let w = watcher.map(|h| h.join().expect("watch thread"));
    let cores1 = core_stat();

    let mut stats = stats;
    let mut cores = serde_json::Map::new();
    for (k, (t1, i1, s1)) in &cores1 {
        if let Some((t0, i0, s0)) = cores0.get(k) {
            let dt = t1.saturating_sub(*t0) as f64;
            if dt > 0.0 {
                let di = i1.saturating_sub(*i0) as f64;
                let ds = s1.saturating_sub(*s0) as f64;
                cores.insert(
                    k.clone(),
                    json!({"busy": ((1.0 - (di + ds) / dt) * 1000.0).round() / 1000.0,
                           "steal": (ds / dt * 1000.0).round() / 1000.0}),
                );
            }
        }
    }
    let errors = stats.transport
        + stats.timeouts
        + stats.incomplete
        + stats
            .status
            .iter()
            .filter(|(k, _)| !(200..300).contains(*k))
            .map(|(_, v)| v)
            .sum::<u64>();
    let gaps_mean_events = if stats.ok > 0 {
        stats.content_events as f64 / stats.ok as f64
    } else {
        0.0
    };
    let mut out = json!({
        "label": a.label,
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "url": a.url,
        "stream": a.stream,
        "conns": a.conns,
        "rate": if a.mode == Mode::Rate { json!(a.rate) } else { Value::Null },
        "duration_s": a.duration,
        "count": if a.mode == Mode::Burst { json!(a.count) } else { Value::Null },
        "wall_s": (wall * 1000.0).round() / 1000.0,
        "sent": stats.sent,
        "ok": stats.ok,
        "errors": errors,
        "error_detail": {
            "transport": stats.transport,
            "timeouts": stats.timeouts,
            "incomplete": stats.incomplete,
            "stream_error_events": stats.stream_errors,
            "first": stats.first_error,
        },
        "status": stats.status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "rps_ok": (stats.ok as f64 / if a.mode == Mode::Burst { wall } else { a.duration.min(wall) } * 10.0).round() / 10.0,
        "latency_ms": summary(&mut stats.lat_us),
        "ttft_ms": if a.stream { summary(&mut stats.ttft_us) } else { Value::Null },
        "gap_ms": if a.stream { summary(&mut stats.gap_us) } else { Value::Null },
        "content_events_per_stream": (gaps_mean_events * 100.0).round() / 100.0,
        "peak_open_streams": if a.mode == Mode::Burst { json!(gauge.peak.load(Ordering::Relaxed)) } else { Value::Null },
        "cores": cores,
        // [second, answers completed in it, slowest of them in ms]
        "timeline": stats.timeline.iter().enumerate()
            .map(|(i, (n, m))| json!([i, n, (f64::from(*m) / 10.0).round() / 100.0]))
            .collect::<Vec<_>>(),
    });
    if let Some(w) = w {
        let per_req = if stats.ok > 0 {
            w.cpu_s * 1000.0 / stats.ok as f64
        } else {
            f64::NAN
        };
        out["proc"] = json!({
            "pid": a.watch_pid,
            "cpu_s": (w.cpu_s * 100.0).round() / 100.0,
            "cpu_ms_per_req": if per_req.is_finite() { json!((per_req * 10000.0).round() / 10000.0) } else { Value::Null },
            "peak_rss_kb": w.peak_rss_kb,
            "start_rss_kb": w.start_rss_kb,
            "end_rss_kb": w.end_rss_kb,
        });
        if a.rss_series {
            out["proc"]["rss_series"] = json!(w
                .series
                .iter()
                .map(|(t, r)| json!([(t * 10.0).round() / 10.0, r]))
                .collect::<Vec<_>>());
        }
    }
    let text = serde_json::to_string_pretty(&out).expect("json");
    match &a.out {
        Some(p) => std::fs::write(p, text + "\n").unwrap_or_else(|e| {
            eprintln!("sy-loadgen: {p}: {e}");
            std::process::exit(2)
        }),
        None => println!("{text}"),
    }
}

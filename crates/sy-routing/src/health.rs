//! Per-endpoint health record (SPEC §6): time buckets of outcomes, time to first token and
//! throughput; the outage flag; the circuit with capped, jittered half-open probes; cooldowns.
//! Pure: every operation takes `now` (seconds on a monotonic clock) as an argument.

use std::cell::RefCell;
use std::collections::VecDeque;

/// Bucket width and span of the record (10 s buckets over 30 min).
const BUCKET_S: f64 = 10.0;
const SPAN_S: f64 = 1800.0;
/// Samples kept per bucket for percentiles.
const SAMPLES_PER_BUCKET: usize = 32;
/// Recent outcomes kept for the outage window.
const RECENT: usize = 64;
/// Consecutive transient failures that open the circuit.
const OPEN_AFTER: u32 = 3;
const FIRST_PROBE_S: f64 = 1.0;
const MAX_PROBE_S: f64 = 10.0;

/// Whether an attempt may start (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// The circuit is closed.
    Go,
    /// The circuit is open and this attempt is its one probe.
    Probe,
    /// The circuit is open and no probe is due, or another request holds it.
    Blocked,
}

/// What one attempt did, as health sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutcomeKind {
    Success,
    /// A transient failure, with its low-cardinality label (network, timeout, rate_limit, ...).
    Failure(&'static str),
    /// Caused by the request (4xx): never counts against the endpoint.
    ClientError,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// Seconds to the first content, when there was one.
    pub ttft_s: Option<f64>,
    /// Generation speed in tokens per second, when measurable.
    pub throughput: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    start: f64,
    successes: u32,
    failures: u32,
    ttft: Vec<f32>,
    throughput: Vec<f32>,
    /// Samples offered to each list, kept or not: where the next one overwrites the oldest.
    ttft_seen: usize,
    throughput_seen: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Circuit {
    Closed,
    Open {
        next_probe_at: f64,
        backoff_s: f64,
        probe_in_flight: bool,
    },
}

/// One endpoint's record.
#[derive(Debug, Clone)]
pub struct HealthRecord {
    buckets: VecDeque<Bucket>,
    recent: VecDeque<(f64, bool)>,
    consecutive_failures: u32,
    circuit: Circuit,
    cooldown_until: f64,
    /// The samples of every live bucket but the newest, sorted: rebuilt only when a bucket
    /// starts or expires (every 10 s at most), so a view sorts at most one bucket's samples.
    closed: RefCell<Closed>,
}

/// Sorted samples of the closed buckets, and which buckets they cover.
#[derive(Debug, Clone, Default)]
struct Closed {
    /// (start of the first live bucket, start of the newest bucket, live buckets)
    key: Option<(u64, u64, usize)>,
    ttft: Vec<f32>,
    throughput: Vec<f32>,
}

impl Default for HealthRecord {
    fn default() -> Self {
        Self {
            buckets: VecDeque::new(),
            recent: VecDeque::new(),
            consecutive_failures: 0,
            circuit: Circuit::Closed,
            cooldown_until: f64::NEG_INFINITY,
            closed: RefCell::default(),
        }
    }
}

/// What routing needs to know about an endpoint right now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EndpointHealth {
    /// Significant recent failure rate: goes after healthy endpoints.
    pub outage: bool,
    /// In cooldown, or circuit open with no probe due: gets traffic only as a last resort.
    pub unavailable: bool,
    /// Median time to first token over 30 min, seconds.
    pub latency_s: Option<f64>,
    /// Median generation throughput over 30 min, tokens/s.
    pub throughput: Option<f64>,
    /// 95th percentile of the time to first token over 30 min, seconds (the hedge delay).
    pub ttft_p95_s: Option<f64>,
}

/// One 10 s bucket of an endpoint's record, for charts.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    /// Bucket start, seconds on the same clock as `now`.
    pub start_s: f64,
    pub successes: u32,
    pub failures: u32,
    pub ttft_p50_s: Option<f64>,
    pub throughput_p50: Option<f64>,
}

/// Figures for the endpoints listing and the dashboard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthSummary {
    /// Percentage of successful attempts over 30 min (None without samples).
    pub uptime_pct: Option<f64>,
    /// The same over the last 5 minutes.
    pub uptime_5m_pct: Option<f64>,
    /// Time to first token percentiles (p50, p75, p90, p95, p99), seconds.
    pub latency_s: Option<[f64; 5]>,
    /// Throughput percentiles (p50, p75, p90, p95, p99), tokens/s.
    pub throughput: Option<[f64; 5]>,
    pub requests: u64,
    pub failures: u64,
    pub circuit: &'static str,
    pub cooldown_s: f64,
}

impl HealthRecord {
    /// Records one attempt's outcome. `jitter` in [0, 1) spreads probe times.
    pub fn record(&mut self, now: f64, outcome: Outcome, jitter: f64) {
        let ok = match outcome.kind {
            OutcomeKind::ClientError => {
                // the endpoint answered: a half-open probe that met a bad request still proves it alive
                self.close_if_probing();
                return;
            }
            OutcomeKind::Success => true,
            OutcomeKind::Failure(_) => false,
        };
        self.expire(now);
        let bucket = self.bucket(now);
        if ok {
            bucket.successes += 1;
        } else {
            bucket.failures += 1;
        }
        if let Some(t) = outcome.ttft_s {
            push_capped(&mut bucket.ttft, &mut bucket.ttft_seen, t);
        }
        if let Some(t) = outcome.throughput {
            push_capped(&mut bucket.throughput, &mut bucket.throughput_seen, t);
        }
        self.recent.push_back((now, ok));
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        if ok {
            self.consecutive_failures = 0;
            self.circuit = Circuit::Closed;
        } else {
            self.consecutive_failures += 1;
            self.circuit = match self.circuit {
                Circuit::Closed if self.consecutive_failures >= OPEN_AFTER => Circuit::Open {
                    next_probe_at: now + FIRST_PROBE_S * (0.8 + 0.4 * jitter),
                    backoff_s: FIRST_PROBE_S,
                    probe_in_flight: false,
                },
                // a failed probe doubles the wait; other failures while open (attempts that were
                // in flight, or a last resort) leave the probe schedule alone
                c @ Circuit::Open {
                    probe_in_flight: false,
                    ..
                } => c,
                Circuit::Open { backoff_s, .. } => {
                    let backoff = (backoff_s * 2.0).min(MAX_PROBE_S);
                    Circuit::Open {
                        next_probe_at: now + (backoff * (0.8 + 0.4 * jitter)).min(MAX_PROBE_S),
                        backoff_s: backoff,
                        probe_in_flight: false,
                    }
                }
                c @ Circuit::Closed => c,
            };
        }
    }

    fn close_if_probing(&mut self) {
        if let Circuit::Open {
            probe_in_flight: true,
            ..
        } = self.circuit
        {
            self.circuit = Circuit::Closed;
            self.consecutive_failures = 0;
        }
    }

    /// Puts the endpoint in cooldown until `until` (Retry-After, rate-limit reset).
    pub fn cooldown(&mut self, until: f64) {
        if until > self.cooldown_until {
            self.cooldown_until = until;
        }
    }

    /// An attempt on this endpoint wants to start: with the circuit closed it goes; with the
    /// circuit open it goes only as the one probe, when one is due and none is in flight
    /// (SPEC §6: no traffic but one probe at a time).
    pub fn begin_attempt(&mut self, now: f64) -> Admit {
        match self.circuit {
            Circuit::Closed => Admit::Go,
            Circuit::Open {
                next_probe_at,
                backoff_s,
                probe_in_flight: false,
            } if now >= next_probe_at => {
                self.circuit = Circuit::Open {
                    next_probe_at,
                    backoff_s,
                    probe_in_flight: true,
                };
                Admit::Probe
            }
            Circuit::Open { .. } => Admit::Blocked,
        }
    }

    /// A probe ended without an outcome (its request was cancelled): the probe is due again,
    /// so a cancelled probe never leaves the endpoint waiting forever.
    pub fn cancel_probe(&mut self) {
        if let Circuit::Open {
            next_probe_at,
            backoff_s,
            probe_in_flight: true,
        } = self.circuit
        {
            self.circuit = Circuit::Open {
                next_probe_at,
                backoff_s,
                probe_in_flight: false,
            };
        }
    }

    /// The routing view at `now`.
    pub fn view(&self, now: f64, outage_window_s: f64) -> EndpointHealth {
        let cooling = now < self.cooldown_until;
        let blocked = match self.circuit {
            Circuit::Closed => false,
            Circuit::Open {
                next_probe_at,
                probe_in_flight,
                ..
            } => probe_in_flight || now < next_probe_at,
        };
        let (mut ok, mut failed) = (0u32, 0u32);
        for (t, good) in self.recent.iter().rev() {
            if now - t > outage_window_s {
                break;
            }
            if *good {
                ok += 1;
            } else {
                failed += 1;
            }
        }
        // a due probe is taken at the endpoint's healthy place, or it would never come
        let probe_due = matches!(self.circuit, Circuit::Open { next_probe_at, probe_in_flight: false, .. } if now >= next_probe_at);
        let outage = !probe_due && self.consecutive_failures > 0 && failed >= 3 && failed >= ok;
        let [ttft, throughput] = self.live_percentiles(now);
        EndpointHealth {
            outage,
            unavailable: cooling || blocked,
            latency_s: ttft.map(|p| p[0]),
            throughput: throughput.map(|p| p[0]),
            ttft_p95_s: ttft.map(|p| p[3]),
        }
    }

    /// Figures over the last 30 minutes.
    pub fn summary(&self, now: f64) -> HealthSummary {
        let live = self.buckets.iter().filter(|b| now - b.start < SPAN_S);
        let (mut ok, mut failed) = (0u64, 0u64);
        for b in live {
            ok += u64::from(b.successes);
            failed += u64::from(b.failures);
        }
        #[allow(clippy::cast_precision_loss)]
        let uptime_pct = (ok + failed > 0).then(|| 100.0 * ok as f64 / (ok + failed) as f64);
        let (mut ok5, mut failed5) = (0u64, 0u64);
        for b in self.buckets.iter().filter(|b| now - b.start < 300.0) {
            ok5 += u64::from(b.successes);
            failed5 += u64::from(b.failures);
        }
        #[allow(clippy::cast_precision_loss)]
        let uptime_5m_pct =
            (ok5 + failed5 > 0).then(|| 100.0 * ok5 as f64 / (ok5 + failed5) as f64);
        let [latency_s, throughput] = self.live_percentiles(now);
        HealthSummary {
            uptime_pct,
            uptime_5m_pct,
            latency_s,
            throughput,
            requests: ok + failed,
            failures: failed,
            circuit: match self.circuit {
                Circuit::Closed => "closed",
                Circuit::Open {
                    probe_in_flight: true,
                    ..
                } => "half_open",
                Circuit::Open { .. } => "open",
            },
            cooldown_s: (self.cooldown_until - now).max(0.0),
        }
    }

    /// The 10 s buckets of the last 30 minutes, oldest first (for charts).
    pub fn series(&self, now: f64) -> Vec<SeriesPoint> {
        self.buckets
            .iter()
            .filter(|b| now - b.start < SPAN_S)
            .map(|b| SeriesPoint {
                start_s: b.start,
                successes: b.successes,
                failures: b.failures,
                ttft_p50_s: percentiles(b.ttft.clone()).map(|p| p[0]),
                throughput_p50: percentiles(b.throughput.clone()).map(|p| p[0]),
            })
            .collect()
    }

    /// Percentiles of time to first token and of throughput over the live buckets: the closed
    /// buckets' sorted samples (cached) merged with the newest bucket's.
    fn live_percentiles(&self, now: f64) -> [Option<[f64; 5]>; 2] {
        let live: Vec<&Bucket> = self
            .buckets
            .iter()
            .filter(|b| now - b.start < SPAN_S)
            .collect();
        let Some((newest, older)) = live.split_last() else {
            return [None, None];
        };
        let key = Some((live[0].start.to_bits(), newest.start.to_bits(), live.len()));
        let mut closed = self.closed.borrow_mut();
        if closed.key != key {
            let sorted = |get: fn(&Bucket) -> &Vec<f32>| {
                let mut v: Vec<f32> = older.iter().flat_map(|b| get(b).iter().copied()).collect();
                v.sort_by(f32::total_cmp);
                v
            };
            *closed = Closed {
                key,
                ttft: sorted(|b| &b.ttft),
                throughput: sorted(|b| &b.throughput),
            };
        }
        let merged = |sorted: &[f32], open: &[f32]| {
            let mut open = open.to_vec();
            open.sort_by(f32::total_cmp);
            percentiles_of_two(sorted, &open)
        };
        [
            merged(&closed.ttft, &newest.ttft),
            merged(&closed.throughput, &newest.throughput),
        ]
    }

    fn expire(&mut self, now: f64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| now - b.start >= SPAN_S)
        {
            self.buckets.pop_front();
        }
    }

    fn bucket(&mut self, now: f64) -> &mut Bucket {
        let start = (now / BUCKET_S).floor() * BUCKET_S;
        if self.buckets.back().is_none_or(|b| b.start < start) {
            self.buckets.push_back(Bucket {
                start,
                ..Bucket::default()
            });
        }
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }
}

/// Keeps the newest `SAMPLES_PER_BUCKET` samples: appends until full, then overwrites the
/// oldest, round-robin by the count of samples offered (`seen`).
#[allow(clippy::cast_possible_truncation)]
fn push_capped(v: &mut Vec<f32>, seen: &mut usize, x: f64) {
    if v.len() < SAMPLES_PER_BUCKET {
        v.push(x as f32);
    } else {
        v[*seen % SAMPLES_PER_BUCKET] = x as f32;
    }
    *seen += 1;
}

/// p50, p75, p90, p95, p99 of the merge of two sorted slices (nearest rank, as `percentiles`).
fn percentiles_of_two(a: &[f32], b: &[f32]) -> Option<[f64; 5]> {
    let n = a.len() + b.len();
    if n == 0 {
        return None;
    }
    let at = |q: f64| {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let i = ((n - 1) as f64 * q).round() as usize;
        f64::from(kth(a, b, i.min(n - 1)))
    };
    Some([at(0.5), at(0.75), at(0.9), at(0.95), at(0.99)])
}

/// The element of rank `k` (0-based) of the merge of two sorted slices; `k < a.len() + b.len()`.
/// Binary search on how many of the `k + 1` smallest come from `a`.
fn kth(a: &[f32], b: &[f32], k: usize) -> f32 {
    let take = k + 1;
    let (mut lo, mut hi) = (take.saturating_sub(b.len()), take.min(a.len()));
    loop {
        let p = lo + (hi - lo) / 2;
        let q = take - p;
        if p > 0 && q < b.len() && a[p - 1] > b[q] {
            hi = p - 1; // too many from a
        } else if q > 0 && p < a.len() && b[q - 1] > a[p] {
            lo = p + 1; // too few from a
        } else {
            let from_a = (p > 0).then(|| a[p - 1]);
            let from_b = (q > 0).then(|| b[q - 1]);
            return match (from_a, from_b) {
                (Some(x), Some(y)) => x.max(y),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => f32::NAN, // unreachable: take >= 1
            };
        }
    }
}

fn percentiles(mut v: Vec<f32>) -> Option<[f64; 5]> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        f64::from(v[i.min(v.len() - 1)])
    };
    Some([at(0.5), at(0.75), at(0.9), at(0.95), at(0.99)])
}

#[cfg(test)]
mod tests;

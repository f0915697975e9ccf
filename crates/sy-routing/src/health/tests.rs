//! Circuit, outage and cooldown behaviour with explicit time.

use super::*;

fn fail() -> Outcome {
    Outcome {
        kind: OutcomeKind::Failure("server_error"),
        ttft_s: None,
        throughput: None,
    }
}

fn ok(ttft: f64) -> Outcome {
    Outcome {
        kind: OutcomeKind::Success,
        ttft_s: Some(ttft),
        throughput: Some(50.0),
    }
}

#[test]
fn circuit_opens_probes_and_closes() {
    let mut h = HealthRecord::default();
    for i in 0..3 {
        assert!(!h.view(f64::from(i), 30.0).unavailable);
        h.record(f64::from(i), fail(), 0.5);
    }
    // open: no traffic until the first probe is due (~1 s)
    assert!(h.view(2.5, 30.0).unavailable);
    assert_eq!(h.begin_attempt(2.5), Admit::Blocked, "no probe due yet");
    assert!(!h.view(3.1, 30.0).unavailable, "probe due");
    assert_eq!(h.begin_attempt(3.1), Admit::Probe);
    assert!(h.view(3.2, 30.0).unavailable, "one probe at a time");
    assert_eq!(h.begin_attempt(3.2), Admit::Blocked, "one probe at a time");
    h.record(3.3, fail(), 0.5);
    // backoff doubled: next probe ~2 s later
    assert!(h.view(4.5, 30.0).unavailable);
    assert!(!h.view(5.4, 30.0).unavailable);
    assert_eq!(h.begin_attempt(5.4), Admit::Probe);
    h.record(5.5, ok(0.2), 0.5);
    assert_eq!(h.begin_attempt(5.5), Admit::Go);
    let v = h.view(5.6, 30.0);
    assert!(!v.unavailable && !v.outage, "{v:?}");
    assert_eq!(h.summary(5.6).circuit, "closed");
}

#[test]
fn probe_interval_is_capped_at_ten_seconds() {
    let mut h = HealthRecord::default();
    let mut now = 0.0;
    for _ in 0..20 {
        h.record(now, fail(), 0.99);
        now += 0.01;
    }
    assert!(!h.view(now + 10.01, 30.0).unavailable);
}

#[test]
fn client_errors_never_count() {
    let mut h = HealthRecord::default();
    for i in 0..10 {
        h.record(
            f64::from(i),
            Outcome {
                kind: OutcomeKind::ClientError,
                ttft_s: None,
                throughput: None,
            },
            0.0,
        );
    }
    let v = h.view(10.0, 30.0);
    assert!(!v.outage && !v.unavailable);
    assert_eq!(h.summary(10.0).uptime_pct, None);
}

#[test]
fn cooldown_and_figures() {
    let mut h = HealthRecord::default();
    h.record(0.0, ok(0.1), 0.0);
    h.record(1.0, ok(0.3), 0.0);
    h.record(2.0, fail(), 0.0);
    h.cooldown(5.0);
    assert!(h.view(4.9, 30.0).unavailable);
    assert!(!h.view(5.0, 30.0).unavailable);
    let s = h.summary(3.0);
    assert!((s.uptime_pct.unwrap() - 66.666).abs() < 0.01);
    assert_eq!(s.latency_s.unwrap()[0], f64::from(0.3f32));
    // samples older than 30 min are gone
    assert_eq!(h.summary(2000.0).uptime_pct, None);
}

#[test]
fn a_due_probe_is_not_held_back_by_the_outage_flag() {
    let mut h = HealthRecord::default();
    for i in 0..5 {
        h.record(f64::from(i) * 0.1, fail(), 0.5);
    }
    let v = h.view(0.45, 30.0);
    assert!(v.unavailable, "{v:?}");
    // the probe is due ~1 s after the circuit opened, long before the 30 s window forgets
    let v = h.view(2.0, 30.0);
    assert!(!v.unavailable && !v.outage, "{v:?}");
}

proptest::proptest! {
    #[test]
    fn rank_of_two_sorted_slices_is_the_rank_of_their_merge(
        mut a in proptest::collection::vec(0.0f32..100.0, 0..60),
        mut b in proptest::collection::vec(0.0f32..100.0, 0..40),
        pick in 0.0f64..1.0,
    ) {
        proptest::prop_assume!(!a.is_empty() || !b.is_empty());
        a.sort_by(f32::total_cmp);
        b.sort_by(f32::total_cmp);
        let mut all: Vec<f32> = a.iter().chain(&b).copied().collect();
        all.sort_by(f32::total_cmp);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let k = ((all.len() - 1) as f64 * pick) as usize;
        proptest::prop_assert_eq!(super::kth(&a, &b, k), all[k]);
    }

    /// The cached closed buckets give the same figures as sorting every sample, as buckets
    /// open and expire.
    #[test]
    fn cached_percentiles_equal_a_full_sort(
        samples in proptest::collection::vec((0.0f64..4000.0, 0.01f64..5.0), 1..300),
    ) {
        let mut h = HealthRecord::default();
        let mut times: Vec<f64> = Vec::new();
        let mut sorted_samples = samples.clone();
        sorted_samples.sort_by(|x, y| x.0.total_cmp(&y.0));
        for (now, ttft) in sorted_samples {
            h.record(now, Outcome { kind: OutcomeKind::Success, ttft_s: Some(ttft), throughput: None }, 0.5);
            times.push(now);
            let full = super::percentiles(
                h.buckets.iter().filter(|b| now - b.start < super::SPAN_S).flat_map(|b| b.ttft.iter().copied()).collect(),
            );
            proptest::prop_assert_eq!(h.summary(now).latency_s, full);
            proptest::prop_assert_eq!(h.view(now, 30.0).latency_s, full.map(|p| p[0]));
        }
    }
}

#[test]
fn a_cancelled_probe_frees_the_probe() {
    // the finding: a probe cancelled by its client left `probe_in_flight` set for good
    let mut h = HealthRecord::default();
    for i in 0..3 {
        h.record(f64::from(i), fail(), 0.5);
    }
    assert_eq!(h.begin_attempt(4.0), Admit::Probe);
    assert!(
        h.view(60.0, 30.0).unavailable,
        "the probe holds the endpoint"
    );
    h.cancel_probe();
    assert!(!h.view(60.0, 30.0).unavailable, "probe due again");
    assert_eq!(h.begin_attempt(60.0), Admit::Probe);
}

/// A full bucket keeps its newest samples: after 32 slow first tokens and then 32 fast ones in
/// the same 10 s, every kept sample is a fast one (overwriting only the first slot kept 31 slow).
#[test]
fn a_full_bucket_keeps_its_newest_samples() {
    let mut h = HealthRecord::default();
    for _ in 0..SAMPLES_PER_BUCKET {
        h.record(1.0, ok(9.0), 0.5);
    }
    for _ in 0..SAMPLES_PER_BUCKET {
        h.record(1.5, ok(0.25), 0.5);
    }
    let latency = h.summary(2.0).latency_s.unwrap();
    assert_eq!(latency, [0.25; 5], "older samples survived: {latency:?}");
    // and a quarter into the next round, the oldest quarter is what was replaced
    for _ in 0..SAMPLES_PER_BUCKET / 4 {
        h.record(1.8, ok(4.0), 0.5);
    }
    let latency = h.summary(2.0).latency_s.unwrap();
    assert_eq!(latency[0], 0.25, "{latency:?}");
    assert_eq!(latency[4], 4.0, "{latency:?}");
}

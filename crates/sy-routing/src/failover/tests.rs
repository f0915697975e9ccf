//! Table tests: scripted outcomes in, the calls and the stop out. The property tests (random
//! plans and outcomes) are in `tests/failover_properties.rs`.

use super::*;
use crate::{classify, FailureKind};

fn slot(model: usize, endpoint: usize) -> Slot {
    Slot {
        at: EndpointRef { model, endpoint },
        context_length: 8000,
        unavailable: false,
        outage: false,
        ttft_p95_s: None,
    }
}

fn policy() -> Policy {
    Policy {
        max_attempts: 6,
        stream_resume: true,
        max_retry_wait_s: 5.0,
        hedge: false,
    }
}

fn status(code: u16, message: &str, retry_after_s: Option<f64>) -> Failure {
    classify(FailureKind::Status {
        status: code,
        message: message.to_owned(),
        code: None,
        kind: None,
        retry_after_s,
        body: None,
    })
}

/// Drives a machine with a script: each call's outcome in order (None: answered). Returns the
/// slots called (retries marked with `r`) and the stop.
fn run(slots: Vec<Slot>, p: Policy, script: &[Option<Failure>]) -> (Vec<String>, Stop) {
    let mut fo = Failover::new(slots, p);
    let mut calls = Vec::new();
    let mut script = script.iter();
    loop {
        let (slot, tag) = match fo.next(100.0) {
            Next::Stop(s) => return (calls, s),
            Next::Call { slot, .. } => (slot, ""),
            Next::Retry { slot, .. } => (slot, "r"),
        };
        fo.begin(slot);
        calls.push(format!("{slot}{tag}"));
        match script.next() {
            Some(Some(f)) => fo.observe(slot, Outcome::Failed(f), false, 0.5),
            _ => fo.observe(slot, Outcome::Answered, false, 0.5),
        }
    }
}

#[test]
fn provider_failover_then_model_fallback_with_one_retry_per_model() {
    let s500 = status(500, "boom", None);
    let (calls, stop) = run(
        vec![slot(0, 0), slot(0, 1), slot(1, 0)],
        policy(),
        &[
            Some(s500.clone()),
            Some(s500.clone()),
            Some(s500.clone()),
            None,
        ],
    );
    // 0 fails, 1 (last of model 0) fails and is retried once, then model 1 answers
    assert_eq!(calls, ["0", "1", "1r", "2"]);
    assert_eq!(stop, Stop::Answered { slot: 2 });
}

#[test]
fn a_refusal_is_never_sent_elsewhere() {
    let refusal = status(400, "flagged by content_policy", None);
    let (calls, stop) = run(vec![slot(0, 0), slot(0, 1)], policy(), &[Some(refusal)]);
    assert_eq!(calls, ["0"]);
    assert_eq!(stop, Stop::Refused { slot: 0 });
}

#[test]
fn context_length_narrows_to_larger_contexts() {
    let mut small = slot(0, 1);
    small.context_length = 4000;
    let mut big = slot(0, 2);
    big.context_length = 16000;
    let ctx = status(400, "maximum context length is 8000", None);
    let (calls, _) = run(vec![slot(0, 0), small, big], policy(), &[Some(ctx), None]);
    assert_eq!(calls, ["0", "2"]);
}

#[test]
fn an_open_circuit_goes_after_every_available_endpoint_of_every_model() {
    // the issue's finding: a model whose only endpoint is down got two calls per request before
    // the fallback model; now the fallback answers first and the dead endpoint is not called
    let mut dead = slot(0, 0);
    dead.unavailable = true;
    let (calls, stop) = run(vec![dead, slot(1, 0)], policy(), &[None]);
    assert_eq!(calls, ["1"]);
    assert_eq!(stop, Stop::Answered { slot: 1 });
    // when everything else fails it is tried once, as a probe, never retried
    let s500 = status(500, "boom", None);
    let (calls, stop) = run(
        vec![dead, slot(1, 0)],
        policy(),
        &[Some(s500.clone()), Some(s500.clone()), Some(s500)],
    );
    assert_eq!(calls, ["1", "1r", "0"]);
    assert_eq!(stop, Stop::Exhausted { out_of_time: false });
}

#[test]
fn silent_and_long_retry_after_failures_are_not_retried() {
    let silent = classify(FailureKind::FirstTokenTimeout);
    let (calls, _) = run(vec![slot(0, 0)], policy(), &[Some(silent)]);
    assert_eq!(calls, ["0"]);
    let long = status(429, "slow down", Some(30.0));
    let (calls, _) = run(vec![slot(0, 0)], policy(), &[Some(long)]);
    assert_eq!(calls, ["0"]);
    let short = status(503, "busy", Some(1.0));
    let mut fo = Failover::new(vec![slot(0, 0)], policy());
    assert!(matches!(fo.next(10.0), Next::Call { slot: 0, .. }));
    fo.begin(0);
    fo.observe(0, Outcome::Failed(&short), false, 0.0);
    assert_eq!(fo.next(10.0), Next::Retry { slot: 0, secs: 1.0 });
    // a retry that would outlast the request is not waited for
    let mut fo = Failover::new(vec![slot(0, 0)], policy());
    fo.next(10.0);
    fo.begin(0);
    fo.observe(0, Outcome::Failed(&short), false, 0.0);
    assert_eq!(
        fo.next(0.5),
        Next::Stop(Stop::Exhausted { out_of_time: false })
    );
}

#[test]
fn max_attempts_bounds_the_request() {
    let s500 = status(500, "boom", None);
    let p = Policy {
        max_attempts: 3,
        ..policy()
    };
    let (calls, stop) = run(
        (0..5).map(|e| slot(0, e)).collect(),
        p,
        &vec![Some(s500); 5],
    );
    assert_eq!(calls.len(), 3);
    assert_eq!(stop, Stop::Exhausted { out_of_time: false });
}

#[test]
fn a_broken_stream_moves_forward_or_stops() {
    let cut = classify(FailureKind::Cut);
    let mut fo = Failover::new(vec![slot(0, 0), slot(0, 1), slot(0, 2)], policy());
    fo.next(10.0);
    fo.begin(0);
    fo.observe(0, Outcome::Failed(&cut), true, 0.0);
    assert!(matches!(
        fo.next(10.0),
        Next::Call {
            slot: 1,
            resume: true,
            ..
        }
    ));
    fo.begin(1);
    fo.observe(1, Outcome::Failed(&cut), true, 0.0);
    assert!(matches!(
        fo.next(10.0),
        Next::Call {
            slot: 2,
            resume: true,
            ..
        }
    ));
    fo.begin(2);
    fo.observe(2, Outcome::Failed(&cut), true, 0.0);
    // the error names the failure that broke the stream, not a later one
    assert_eq!(fo.next(10.0), Next::Stop(Stop::Broken { slot: 0 }));
    // resume off: the first break ends it
    let p = Policy {
        stream_resume: false,
        ..policy()
    };
    let mut fo = Failover::new(vec![slot(0, 0), slot(0, 1)], p);
    fo.next(10.0);
    fo.begin(0);
    fo.observe(0, Outcome::Failed(&cut), true, 0.0);
    assert_eq!(fo.next(10.0), Next::Stop(Stop::Broken { slot: 0 }));
}

#[test]
fn saturation_skips_without_counting_a_call() {
    let mut fo = Failover::new(vec![slot(0, 0), slot(0, 1)], policy());
    assert!(matches!(fo.next(10.0), Next::Call { slot: 0, .. }));
    fo.observe(0, Outcome::Skipped(Skip::Saturated), false, 0.0);
    assert!(matches!(fo.next(10.0), Next::Call { slot: 1, .. }));
    fo.observe(1, Outcome::Skipped(Skip::Saturated), false, 0.0);
    assert_eq!(fo.made(), 0);
    assert_eq!(
        fo.next(10.0),
        Next::Stop(Stop::Exhausted { out_of_time: false })
    );
}

#[test]
fn hedging_names_the_next_measured_endpoint() {
    let mut a = slot(0, 0);
    a.ttft_p95_s = Some(2.0);
    let mut b = slot(0, 1);
    b.ttft_p95_s = Some(0.3);
    let mut c = slot(0, 2);
    c.ttft_p95_s = Some(0.1);
    let p = Policy {
        hedge: true,
        ..policy()
    };
    let mut fo = Failover::new(vec![a, b, c], p);
    assert_eq!(
        fo.next(10.0),
        Next::Call {
            slot: 0,
            resume: false,
            hedge: Some(Hedge {
                slot: 1,
                after_s: 0.1
            })
        }
    );
    // no measurement, no hedge
    let mut fo = Failover::new(vec![slot(0, 0), b], p);
    assert!(matches!(fo.next(10.0), Next::Call { hedge: None, .. }));
    let _ = c;
}

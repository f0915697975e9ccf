//! Property tests of the failover machine: random plans and random outcomes, and the SPEC §4.3 /
//! §6 invariants checked after every step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sy_routing::failover::{Failover, Next, Outcome, Policy, Skip, Slot, Stop};
use sy_routing::{classify, EndpointRef, Failure, FailureKind};

#[derive(Debug, Clone)]
enum Step {
    Answer,
    Fail(Failure),
    Skip,
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(classify(FailureKind::Connect("refused".into()))),
        Just(classify(FailureKind::FirstTokenTimeout)),
        Just(classify(FailureKind::Cut)),
        (
            prop_oneof![Just(429u16), Just(500), Just(503)],
            proptest::option::of(0.0..10.0f64)
        )
            .prop_map(|(status, ra)| classify(FailureKind::Status {
                status,
                message: "x".into(),
                code: None,
                kind: None,
                retry_after_s: ra,
                body: None,
            })),
        Just(classify(FailureKind::Status {
            status: 400,
            message: "maximum context length exceeded".into(),
            code: None,
            kind: None,
            retry_after_s: None,
            body: None,
        })),
        Just(classify(FailureKind::Status {
            status: 400,
            message: "bad temperature".into(),
            code: None,
            kind: None,
            retry_after_s: None,
            body: None,
        })),
        Just(classify(FailureKind::Status {
            status: 403,
            message: "content_policy_violation".into(),
            code: None,
            kind: None,
            retry_after_s: None,
            body: None,
        })),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Answer),
        5 => failure().prop_map(Step::Fail),
        1 => Just(Step::Skip),
    ]
}

fn slots() -> impl Strategy<Value = Vec<Slot>> {
    prop::collection::vec(
        (
            0usize..3,
            prop_oneof![Just(4000u64), Just(8000), Just(16000)],
            prop::bool::weighted(0.25),
        ),
        1..8,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (model, ctx, unavailable))| Slot {
                at: EndpointRef { model, endpoint: i },
                context_length: ctx,
                unavailable,
                outage: false,
                ttft_p95_s: None,
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
struct Case {
    slots: Vec<Slot>,
    policy: Policy,
    steps: Vec<Step>,
    /// The call (by number) after which the client has content, if any.
    commit_at: Option<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        slots(),
        1u32..8,
        any::<bool>(),
        prop::collection::vec(step(), 0..20),
        proptest::option::of(0usize..6),
    )
        .prop_map(
            |(slots, max_attempts, stream_resume, steps, commit_at)| Case {
                slots,
                policy: Policy {
                    max_attempts,
                    stream_resume,
                    max_retry_wait_s: 5.0,
                    hedge: false,
                },
                steps,
                commit_at,
            },
        )
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let mut fo = Failover::new(c.slots.clone(), c.policy);
    let mut tries = vec![0u32; c.slots.len()];
    let mut skipped = vec![false; c.slots.len()];
    let mut steps = c.steps.iter();
    let mut calls = 0usize;
    let mut committed = false;
    let mut floor: Option<u64> = None;
    let mut last: Option<(usize, bool)> = None; // the last called slot and whether it failed transiently
    for _ in 0..200 {
        let (slot, retry) = match fo.next(100.0) {
            Next::Stop(stop) => {
                if let Stop::Refused { slot } = stop {
                    prop_assert!(!committed, "a refusal after content is a broken stream");
                    prop_assert_eq!(Some(slot), last.map(|l| l.0));
                }
                return Ok(());
            }
            Next::Call { slot, resume, .. } => {
                prop_assert_eq!(resume, committed);
                (slot, false)
            }
            Next::Retry { slot, secs } => {
                prop_assert!(secs <= 5.0);
                prop_assert_eq!(
                    Some((slot, true)),
                    last,
                    "a retry is of the slot that just failed"
                );
                prop_assert!(!committed);
                (slot, true)
            }
        };
        let s = c.slots[slot];
        if !committed {
            if let Some(f) = floor {
                prop_assert!(
                    s.context_length > f,
                    "{slot} called below the context floor {f}"
                );
            }
        }
        if s.unavailable && !retry {
            // every available slot was passed: called, skipped, or too small
            for (i, o) in c.slots.iter().enumerate() {
                if !o.unavailable && tries[i] == 0 && !skipped[i] {
                    prop_assert!(
                        floor.is_some_and(|f| o.context_length <= f) || committed,
                        "unavailable {slot} called before available {i}"
                    );
                }
            }
        }
        match steps.next().cloned().unwrap_or(Step::Answer) {
            Step::Skip => {
                skipped[slot] = true;
                fo.observe(slot, Outcome::Skipped(Skip::Saturated), committed, 0.5);
                last = None;
            }
            step => {
                fo.begin(slot);
                calls += 1;
                tries[slot] += 1;
                prop_assert!(
                    tries[slot] <= if s.unavailable { 1 } else { 2 },
                    "{slot} tried {} times",
                    tries[slot]
                );
                prop_assert!(calls <= c.policy.max_attempts as usize);
                let commit = committed || c.commit_at == Some(calls);
                match step {
                    Step::Answer => {
                        fo.observe(slot, Outcome::Answered, commit, 0.5);
                        prop_assert_eq!(fo.next(100.0), Next::Stop(Stop::Answered { slot }));
                        return Ok(());
                    }
                    Step::Fail(f) => {
                        fo.observe(slot, Outcome::Failed(&f), commit, 0.5);
                        if !commit && f.class == sy_routing::Class::ContextLength {
                            floor =
                                Some(floor.map_or(s.context_length, |x| x.max(s.context_length)));
                        }
                        if !commit && f.class == sy_routing::Class::RequestError {
                            prop_assert_eq!(fo.next(100.0), Next::Stop(Stop::Refused { slot }));
                            return Ok(());
                        }
                        if commit && (f.refusal || !c.policy.stream_resume) {
                            let stopped = matches!(fo.next(100.0), Next::Stop(Stop::Broken { .. }));
                            prop_assert!(stopped, "a refusal or resume off ends a broken stream");
                            return Ok(());
                        }
                        last = Some((slot, f.class == sy_routing::Class::Transient && !commit));
                    }
                    Step::Skip => unreachable!(),
                }
                committed = commit;
            }
        }
    }
    prop_assert!(false, "the machine did not stop within 200 steps");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn failover_keeps_its_invariants(c in case()) {
        check(&c)?;
    }
}

//! The health store on the server's clock, driven by paused tokio time: the circuit opens, lets
//! one probe through at growing intervals, closes; cooldowns last exactly as long as advertised.

use std::time::Duration;

use sy_routing::{Outcome, OutcomeKind};
use tokio::time::advance;

use crate::state::{AppState, ConfigSource, Snapshot};

const CONFIG: &str = "[[providers]]\nname = \"p\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
                      [[models]]\nid = \"m\"\ncontext_length = 1000\n\
                      [[models.endpoints]]\nprovider = \"p\"\nupstream_model = \"u\"\nprompt_price = 1.0\ncompletion_price = 1.0\n";

fn state() -> std::sync::Arc<AppState> {
    let config = sy_config::load(CONFIG, "test.toml", &|_| None).unwrap();
    AppState::new(
        Snapshot::new(config).unwrap(),
        ConfigSource::Demo,
        Box::new(|_| None),
        None,
    )
}

fn fail() -> Outcome {
    Outcome {
        kind: OutcomeKind::Failure("server_error"),
        ttft_s: None,
        throughput: None,
    }
}

fn ok() -> Outcome {
    Outcome {
        kind: OutcomeKind::Success,
        ttft_s: Some(0.1),
        throughput: Some(50.0),
    }
}

#[tokio::test(start_paused = true)]
async fn circuit_probes_at_growing_intervals_and_closes() {
    let s = state();
    let h = &s.health;
    let blocked = |s: &AppState| s.health.view("m", "p", s.now(), 30.0).unavailable;
    for _ in 0..3 {
        h.record("m", "p", s.now(), fail());
    }
    assert!(blocked(&s), "three failures open the circuit");
    advance(Duration::from_millis(700)).await;
    assert!(blocked(&s), "no probe before ~1 s");
    advance(Duration::from_millis(600)).await;
    assert!(!blocked(&s), "the first probe is due after ~1 s");
    h.begin_attempt("m", "p", s.now());
    assert!(blocked(&s), "one probe at a time");
    h.record("m", "p", s.now(), fail());
    advance(Duration::from_millis(1500)).await;
    assert!(blocked(&s), "a failed probe doubles the wait (~2 s)");
    advance(Duration::from_millis(1000)).await;
    assert!(!blocked(&s));
    h.begin_attempt("m", "p", s.now());
    h.record("m", "p", s.now(), ok());
    let v = h.view("m", "p", s.now(), 30.0);
    assert!(
        !v.unavailable && !v.outage,
        "a successful probe closes the circuit: {v:?}"
    );
    assert_eq!(h.summary("m", "p", s.now()).circuit, "closed");
}

#[tokio::test(start_paused = true)]
async fn probes_are_never_more_than_ten_seconds_apart() {
    let s = state();
    let h = &s.health;
    for _ in 0..3 {
        h.record("m", "p", s.now(), fail());
    }
    for _ in 0..8 {
        advance(Duration::from_millis(10_001)).await;
        assert!(
            !h.view("m", "p", s.now(), 30.0).unavailable,
            "a probe is due within 10 s"
        );
        h.begin_attempt("m", "p", s.now());
        h.record("m", "p", s.now(), fail());
    }
}

#[tokio::test(start_paused = true)]
async fn cooldown_lasts_as_advertised() {
    let s = state();
    let h = &s.health;
    h.cooldown("m", "p", s.now() + 3.0);
    advance(Duration::from_millis(2900)).await;
    assert!(
        h.view("m", "p", s.now(), 30.0).unavailable,
        "still cooling down at 2.9 s"
    );
    advance(Duration::from_millis(200)).await;
    assert!(
        !h.view("m", "p", s.now(), 30.0).unavailable,
        "back after 3 s"
    );
}

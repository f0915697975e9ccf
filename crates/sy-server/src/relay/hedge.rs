//! Hedged first tokens (SPEC §7): when an attempt has produced no first token after the hedge
//! delay (which the failover machine chose), the partner endpoint is started too; the first to
//! produce content wins and the other is cancelled — its guard closes it as a lost hedge, charged
//! for the prompt it was sent, and its concurrency slot is released at once.

use std::sync::Arc;
use std::time::Duration;

use sy_api::Finish;
use sy_providers::{Call, Continue};
use sy_routing::failover::{Hedge, Outcome};
use sy_routing::{Admit, FailureKind};

use super::attempt::{self, AttemptGuard, Opened, Timeouts};
use super::output::Out;
use super::{Relay, Run};

type Raced = (usize, AttemptGuard, Result<Option<Finish>, FailureKind>);

impl Relay {
    /// Races the attempt at `slot` (its call ready) with the hedge partner started after the
    /// delay. Returns the position whose attempt decides what follows, with its guard and result;
    /// the other attempt has been closed (a failure before content) or cancelled (it lost).
    pub(super) async fn race(
        &self,
        run: &mut Run,
        slot: usize,
        h: Hedge,
        primary: (AttemptGuard, Call),
        out: &mut Out,
        t: &Timeouts,
    ) -> Raced {
        let (guard, call) = primary;
        let at = self.plan.attempts[slot].at;
        let (Some(target), Some(client)) = (
            self.target(at),
            self.snap.upstreams.get(&self.endpoint(at).1.provider),
        ) else {
            return (
                slot,
                guard,
                Err(FailureKind::Unencodable("no provider".to_owned())),
            );
        };
        let lost_a = guard.lost_flag();
        let mut a = Box::pin(attempt::open(
            client.open(call, &target, Continue::Fresh),
            guard,
            t,
        ));
        let first = tokio::select! {
            r = a.as_mut() => Some(r),
            () = tokio::time::sleep(Duration::from_secs_f64(h.after_s)) => None,
        };
        if let Some(r) = first {
            return self.proceed(run, slot, r, out, t).await;
        }
        // no first token within the delay: start the partner, if it can start at once
        let Some(partner) = self.start_partner(run, h.slot) else {
            let r = a.as_mut().await;
            return self.proceed(run, slot, r, out, t).await;
        };
        let (guard_q, call_q) = partner;
        let q = h.slot;
        let at_q = self.plan.attempts[q].at;
        let (Some(target_q), Some(client_q)) = (
            self.target(at_q),
            self.snap.upstreams.get(&self.endpoint(at_q).1.provider),
        ) else {
            let r = a.as_mut().await;
            return self.proceed(run, slot, r, out, t).await;
        };
        tracing::debug!(id = %self.gen_id, hedge = %target_q.provider.name, after_ms = (h.after_s * 1000.0) as u64, "hedging a slow first token");
        let lost_b = guard_q.lost_flag();
        let mut b = Box::pin(attempt::open(
            client_q.open(call_q, &target_q, Continue::Fresh),
            guard_q,
            t,
        ));
        let (mut a_done, mut b_done) = (false, false);
        let winner = loop {
            tokio::select! {
                r = a.as_mut(), if !a_done => match r {
                    Ok(opened) => break (slot, Ok(opened)),
                    Err(e) if b_done => break (slot, Err(e)),
                    Err((g, kind)) => { a_done = true; self.lost_before_content(run, slot, g, kind); }
                },
                r = b.as_mut(), if !b_done => match r {
                    Ok(opened) => break (q, Ok(opened)),
                    Err(e) if a_done => break (q, Err(e)),
                    Err((g, kind)) => { b_done = true; self.lost_before_content(run, q, g, kind); }
                },
            }
        };
        // the loser, still waiting for its first token, is cancelled now by dropping it: its
        // guard closes it as a lost hedge (probe released, concurrency slot released at once,
        // the prompt it was sent charged), before the winner's answer is written
        let (won, r) = winner;
        let loser_pending = if won == slot { !b_done } else { !a_done };
        if loser_pending {
            let loser = if won == slot { q } else { slot };
            run.fo.observe(loser, Outcome::Lost, false, 0.0);
            let flag = if won == slot { &lost_b } else { &lost_a };
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        drop(a);
        drop(b);
        self.proceed(run, won, r, out, t).await
    }

    /// The hedge partner's guard and call, when it can start at once (a hedge never queues).
    fn start_partner(&self, run: &mut Run, q: usize) -> Option<(AttemptGuard, Call)> {
        let at = self.plan.attempts[q].at;
        let (model, ep) = self.endpoint(at);
        let client = self.snap.upstreams.get(&ep.provider)?;
        let target = self.target(at)?;
        let permit = client.try_permit()?;
        let admit = self
            .state
            .health
            .begin_attempt(model, &ep.provider, self.state.now());
        if admit == Admit::Blocked {
            return None;
        }
        let call =
            match sy_providers::protocol(client.api).encode(&self.req, &target, Continue::Fresh) {
                Ok(c) => c,
                Err(_) => {
                    if admit == Admit::Probe {
                        self.state.health.cancel_attempt(model, &ep.provider);
                    }
                    return None;
                }
            };
        run.fo.begin(q);
        let guard = AttemptGuard::new(
            Arc::clone(&self.ledger),
            at,
            permit,
            admit == Admit::Probe,
            0,
        );
        Some((guard, call))
    }

    /// One side of the race failed before any content while the other still runs: booked, and
    /// counted by the machine without deciding anything.
    fn lost_before_content(&self, run: &mut Run, slot: usize, g: AttemptGuard, kind: FailureKind) {
        if let Some(f) = g.close(Err(kind)) {
            run.failures.insert(slot, f);
        }
        run.fo.observe(slot, Outcome::Lost, false, 0.0);
    }

    /// Finishes an opened attempt into `out`, or passes a failed one on.
    async fn proceed(
        &self,
        run: &Run,
        slot: usize,
        r: Result<Opened, (AttemptGuard, FailureKind)>,
        out: &mut Out,
        t: &Timeouts,
    ) -> Raced {
        match r {
            Ok(opened) => {
                let at = self.plan.attempts[slot].at;
                out.start_attempt(false);
                let pass = self.same_family(at);
                let meta = self.meta(at);
                let calls = usize::try_from(run.fo.made()).unwrap_or(usize::MAX);
                let (g, result) = attempt::finish(opened, out, pass, &meta, calls, t).await;
                (slot, g, result)
            }
            Err((g, kind)) => (slot, g, Err(kind)),
        }
    }
}

//! Hedged first tokens (SPEC §7): when an attempt has produced no first token after the hedge
//! delay, the next endpoint of the plan is started too; the first to produce content wins and
//! the other is cancelled. Both are recorded. The delay is the lowest measured p95 time to first
//! token among the attempt's endpoint and the plan's others, and no hedge starts before the two
//! endpoints involved have measurements.

use std::time::Duration;

use sy_providers::Encoded;
use sy_upstream::ProviderClient;
use tokio::time::Instant;

use super::attempt::{self, Labels, Opened, Report, Timeouts};
use super::output::{Mode, Out};
use super::record::AttemptLog;
use super::{Relay, Run};

impl Relay {
    /// The plan position to race with `pos`, and the hedge delay; None: no hedge.
    pub(super) fn hedge_partner(&self, run: &Run, pos: usize) -> Option<(usize, Duration)> {
        let at = self.plan.attempts[pos].at;
        let q = (pos + 1..self.plan.attempts.len())
            .find(|&q| self.plan.attempts[q].at != at && self.eligible(run, q))?;
        let now = self.state.now();
        let window = self.snap.config.routing.outage_window_s;
        let view = |i: usize| {
            let (m, e) = self.endpoint(self.plan.attempts[i].at);
            self.state.health.view(m, &e.provider, now, window)
        };
        let (own, other) = (view(pos), view(q));
        if other.unavailable || other.outage {
            return None;
        }
        let mut delay = own.ttft_p95_s?.min(other.ttft_p95_s?);
        for i in 0..self.plan.attempts.len() {
            if let Some(p) = view(i).ttft_p95_s {
                delay = delay.min(p);
            }
        }
        Some((q, Duration::from_secs_f64(delay.max(0.0))))
    }

    /// Races the attempt at `pos` (already begun, `primary`) with one at `q` started after
    /// `delay`. Returns the position whose report decides what follows; the other attempt has
    /// been booked (a failure before content) or logged as cancelled (it lost the race).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn race(
        &self,
        run: &mut Run,
        pos: usize,
        q: usize,
        delay: Duration,
        primary: (&ProviderClient, Encoded),
        out: &mut Out,
        t: &Timeouts,
    ) -> (usize, Report) {
        let (client, enc) = primary;
        let a = attempt::open(client, enc, None, t);
        tokio::pin!(a);
        let first = tokio::select! {
            r = &mut a => Some(r),
            () = tokio::time::sleep(delay) => None,
        };
        if let Some(r) = first {
            return (pos, self.proceed(pos, r, out, run, t).await);
        }
        // no first token within the delay: start the partner, if it can start at once
        let ep_q = self.endpoint(self.plan.attempts[q].at).1;
        let Some(client_q) = self.snap.upstreams.get(&ep_q.provider) else {
            return (pos, self.proceed(pos, a.await, out, run, t).await);
        };
        let Some(permit_q) = client_q.try_permit() else {
            return (pos, self.proceed(pos, a.await, out, run, t).await);
        };
        let Ok(enc_q) = sy_providers::encode(
            client_q.api,
            &self.req,
            &ep_q.upstream_model,
            None,
            ep_q.max_completion_tokens,
        ) else {
            return (pos, self.proceed(pos, a.await, out, run, t).await);
        };
        tracing::debug!(id = %self.gen_id, hedge = %ep_q.provider, after_ms = delay.as_millis(), "hedging a slow first token");
        self.begin(run, self.plan.attempts[q].at);
        let b = attempt::open(client_q, enc_q, None, t);
        tokio::pin!(b);
        let started = Instant::now();
        let (mut a_done, mut b_done) = (false, false);
        let outcome = loop {
            tokio::select! {
                r = &mut a, if !a_done => match r {
                    Ok(opened) => break (pos, Ok(opened)),
                    Err(rep) if b_done => break (pos, Err(rep)),
                    Err(rep) => { a_done = true; self.book(run, self.plan.attempts[pos].at, &rep, None); }
                },
                r = &mut b, if !b_done => match r {
                    Ok(opened) => break (q, Ok(opened)),
                    Err(rep) if a_done => break (q, Err(rep)),
                    Err(rep) => { b_done = true; self.book(run, self.plan.attempts[q].at, &rep, None); }
                },
            }
        };
        // the loser, still waiting for its first token, is cancelled by dropping it
        let loser = if outcome.0 == pos { q } else { pos };
        if !(if loser == pos { a_done } else { b_done }) {
            let (m, e) = self.endpoint(self.plan.attempts[loser].at);
            run.ended
                .log
                .push(AttemptLog::cancelled(m, e, started.elapsed().as_secs_f64()));
        }
        let (won, r) = outcome;
        let rep = self.proceed(won, r, out, run, t).await;
        drop(permit_q);
        (won, rep)
    }

    /// Finishes an opened attempt into `out`, or passes a failed one on.
    async fn proceed(
        &self,
        pos: usize,
        r: Result<Opened, Report>,
        out: &mut Out,
        run: &Run,
        t: &Timeouts,
    ) -> Report {
        match r {
            Ok(opened) => {
                let (model, ep) = self.endpoint(self.plan.attempts[pos].at);
                let labels = Labels {
                    model,
                    provider: &ep.provider,
                    attempts: run.ended.made,
                };
                attempt::finish(opened, out, &mut Mode::Fresh, &labels, t).await
            }
            Err(rep) => rep,
        }
    }
}

//! The failover policy of SPEC §4.3 and §6 as a pure state machine: given the plan and what has
//! happened so far, what the relay does next — call an endpoint (with a hedge partner when
//! hedging applies), wait and call the same endpoint again, or stop with the reason. The relay
//! executes the decisions and does the IO; it decides nothing itself.
//!
//! Invariants (table and property tests hold them):
//! - at most `max_attempts` calls per request, and at most two on any one endpoint;
//! - an endpoint that was unavailable when planned (open circuit, cooldown) is called only
//!   after every available endpoint of every model, at most once, never retried;
//! - a request error before the client has content ends the request at once: a refusal is
//!   never sent elsewhere; after content, a refusal ends the stream;
//! - after a context-length error only endpoints with a larger context are called;
//! - the same-endpoint retry happens once per model, on the model's last available endpoint,
//!   after a transient failure that was not silent, waiting at most `max_retry_wait_s`;
//! - a continuation after a broken stream only moves forward in the plan.

use crate::{Class, EndpointRef, Failure};

/// One plan position, with what the policy needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub at: EndpointRef,
    pub context_length: u64,
    /// In cooldown or with its circuit open when the plan was made.
    pub unavailable: bool,
    /// In outage when the plan was made (never raced as a hedge partner).
    pub outage: bool,
    /// Measured 95th percentile time to first token, seconds.
    pub ttft_p95_s: Option<f64>,
}

/// The routing settings the policy reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub max_attempts: u32,
    pub stream_resume: bool,
    pub max_retry_wait_s: f64,
    pub hedge: bool,
}

/// Why an endpoint was passed over without a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Its provider was at `max_concurrency` for longer than the queue waits.
    Saturated,
    /// Its circuit is open and another request holds the probe.
    CircuitOpen,
    /// The request cannot be put in its protocol.
    Unencodable,
}

/// What happened at a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome<'a> {
    /// The answer is complete.
    Answered,
    Failed(&'a Failure),
    /// No call was made.
    Skipped(Skip),
    /// Cancelled by the gateway (a hedge that lost the race): counted, decides nothing.
    Lost,
}

/// A second endpoint to race against a slow first token (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hedge {
    pub slot: usize,
    /// Start it when the first has produced no content after this long.
    pub after_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Call `slot`; `resume`: the client has content, this is a continuation.
    Call {
        slot: usize,
        resume: bool,
        hedge: Option<Hedge>,
    },
    /// Wait `secs`, then call `slot` again (the retry before the plan leaves a model).
    Retry {
        slot: usize,
        secs: f64,
    },
    Stop(Stop),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Answered {
        slot: usize,
    },
    /// A request error: the client gets the upstream's refusal.
    Refused {
        slot: usize,
    },
    /// The client has part of an answer that nothing could continue; `slot` broke it.
    Broken {
        slot: usize,
    },
    /// Every attempt failed or none could be made; `out_of_time` when the request's time ran
    /// out first.
    Exhausted {
        out_of_time: bool,
    },
}

/// One request's run through its plan.
#[derive(Debug, Clone)]
pub struct Failover {
    slots: Vec<Slot>,
    /// Slot indices in calling order: available ones as planned, then unavailable ones.
    visit: Vec<usize>,
    /// Position in `visit` of the next candidate.
    cursor: usize,
    tries: Vec<u8>,
    retried_models: Vec<usize>,
    ctx_floor: Option<u64>,
    made: u32,
    committed: bool,
    broken: Option<usize>,
    pending: Option<Next>,
    done: Option<Stop>,
    policy: Policy,
}

impl Failover {
    pub fn new(slots: Vec<Slot>, policy: Policy) -> Failover {
        let mut visit: Vec<usize> = (0..slots.len())
            .filter(|&i| !slots[i].unavailable)
            .collect();
        visit.extend((0..slots.len()).filter(|&i| slots[i].unavailable));
        Failover {
            tries: vec![0; slots.len()],
            slots,
            visit,
            cursor: 0,
            retried_models: Vec::new(),
            ctx_floor: None,
            made: 0,
            committed: false,
            broken: None,
            pending: None,
            done: None,
            policy,
        }
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// Upstream calls made so far.
    pub fn made(&self) -> u32 {
        self.made
    }

    fn max_tries(&self, i: usize) -> u8 {
        if self.slots[i].unavailable {
            1
        } else {
            2
        }
    }

    fn eligible(&self, i: usize) -> bool {
        self.tries[i] < self.max_tries(i)
            && self
                .ctx_floor
                .is_none_or(|c| self.slots[i].context_length > c)
    }

    fn position(&self, slot: usize) -> usize {
        self.visit.iter().position(|&s| s == slot).unwrap_or(0)
    }

    fn move_past(&mut self, slot: usize) {
        self.cursor = self.cursor.max(self.position(slot) + 1);
    }

    fn give_up(&self, out_of_time: bool) -> Stop {
        match self.broken {
            Some(slot) => Stop::Broken { slot },
            None => Stop::Exhausted { out_of_time },
        }
    }

    /// What to do next, with `time_left_s` of the request's time left.
    pub fn next(&mut self, time_left_s: f64) -> Next {
        if let Some(stop) = self.done {
            return Next::Stop(stop);
        }
        if let Some(Next::Retry { slot, secs }) = self.pending.take() {
            if secs < time_left_s && self.made < self.policy.max_attempts {
                return Next::Retry { slot, secs };
            }
            self.move_past(slot);
        }
        if time_left_s <= 0.0 {
            return self.stop(self.give_up(true));
        }
        if self.made >= self.policy.max_attempts {
            return self.stop(self.give_up(false));
        }
        while self.cursor < self.visit.len() && !self.eligible(self.visit[self.cursor]) {
            self.cursor += 1;
        }
        let Some(&slot) = self.visit.get(self.cursor) else {
            return self.stop(self.give_up(false));
        };
        let hedge = self.hedge_partner(slot);
        Next::Call {
            slot,
            resume: self.committed,
            hedge,
        }
    }

    fn stop(&mut self, stop: Stop) -> Next {
        self.done = Some(stop);
        Next::Stop(stop)
    }

    /// SPEC §7: the next endpoint of the plan, when hedging is on, the client has nothing yet, a
    /// second call fits the budget and both endpoints have measurements. The delay is the lowest
    /// p95 time to first token among the plan's endpoints.
    fn hedge_partner(&self, slot: usize) -> Option<Hedge> {
        if !self.policy.hedge || self.committed || self.made + 2 > self.policy.max_attempts {
            return None;
        }
        let at = self.slots[slot].at;
        let q = self.visit[self.cursor + 1..].iter().copied().find(|&q| {
            self.slots[q].at != at
                && self.eligible(q)
                && !self.slots[q].unavailable
                && !self.slots[q].outage
        })?;
        let mut delay = self.slots[slot].ttft_p95_s?.min(self.slots[q].ttft_p95_s?);
        for s in &self.slots {
            if let Some(p) = s.ttft_p95_s {
                delay = delay.min(p);
            }
        }
        Some(Hedge {
            slot: q,
            after_s: delay.max(0.0),
        })
    }

    /// A call to `slot` starts (a planned call, a retry or a hedge partner).
    pub fn begin(&mut self, slot: usize) {
        self.made += 1;
        self.tries[slot] = self.tries[slot].saturating_add(1);
    }

    /// What happened at `slot`. `committed`: the client has received content of this answer.
    pub fn observe(&mut self, slot: usize, outcome: Outcome<'_>, committed: bool, jitter: f64) {
        self.committed |= committed;
        match outcome {
            Outcome::Answered => self.done = Some(Stop::Answered { slot }),
            Outcome::Skipped(_) => self.move_past(slot),
            Outcome::Lost => {}
            Outcome::Failed(f) if self.committed => {
                self.broken.get_or_insert(slot);
                if !self.policy.stream_resume || f.refusal {
                    self.done = Some(self.give_up(false));
                } else {
                    self.move_past(slot);
                }
            }
            Outcome::Failed(f) => match f.class {
                Class::RequestError => self.done = Some(Stop::Refused { slot }),
                Class::ContextLength => {
                    let c = self.slots[slot].context_length;
                    self.ctx_floor = Some(self.ctx_floor.map_or(c, |f| f.max(c)));
                    self.move_past(slot);
                }
                Class::Transient => match self.retry_wait(slot, f, jitter) {
                    Some(secs) => {
                        self.retried_models.push(self.slots[slot].at.model);
                        self.pending = Some(Next::Retry { slot, secs });
                    }
                    None => self.move_past(slot),
                },
            },
        }
    }

    /// Is `slot` the last available endpoint of its model still to be called?
    fn last_of_model(&self, slot: usize) -> bool {
        let model = self.slots[slot].at.model;
        let from = self.position(slot) + 1;
        !self.visit[from..].iter().any(|&q| {
            self.slots[q].at.model == model && !self.slots[q].unavailable && self.eligible(q)
        })
    }

    /// SPEC §4.3: before the plan leaves a model, a transient failure of its last endpoint is
    /// retried once — after `Retry-After` when it is at most `max_retry_wait_s`, else after about
    /// half a second — except a silent endpoint, an unavailable one, or one already tried twice.
    /// A longer `Retry-After` is a cooldown: no retry.
    fn retry_wait(&self, slot: usize, f: &Failure, jitter: f64) -> Option<f64> {
        let model = self.slots[slot].at.model;
        if f.silent
            || self.slots[slot].unavailable
            || self.retried_models.contains(&model)
            || self.tries[slot] >= 2
            || !self.last_of_model(slot)
        {
            return None;
        }
        match f.retry_after_s() {
            Some(ra) if ra <= self.policy.max_retry_wait_s => Some(ra),
            Some(_) => None,
            None => Some(0.4 + 0.2 * jitter),
        }
    }
}

#[cfg(test)]
mod tests;

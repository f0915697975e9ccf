//! A request's ledger: the attempt log, the usage of every attempt, and how the request ended.
//! It is shared by the relay and each attempt's guard, and when the last of them is dropped —
//! whatever ended the request: an answer, an error, the client going away, the deadline,
//! shutdown — it writes the generation record and charges the cost, exactly once (SPEC §8).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{json, Value};
use sy_api::{ApiError, Finish, Request, Usage};
use sy_routing::{EndpointRef, Plan};

use super::record::AttemptLog;
use crate::keys::{LiveKey, Reservation};
use crate::state::{AppState, Snapshot};

/// How a request ended.
#[derive(Debug, Clone)]
pub enum Ending {
    Answered {
        at: EndpointRef,
        finish: Option<Finish>,
    },
    Failed(ApiError),
    /// Ended by the gateway (the client went away, shutdown) before it finished.
    Cancelled(&'static str),
}

#[derive(Default)]
struct Book {
    log: Vec<AttemptLog>,
    usage: Usage,
    ending: Option<Ending>,
}

/// Who the request is, for its record.
pub struct Ledger {
    pub state: Arc<AppState>,
    pub snap: Arc<Snapshot>,
    pub plan: Arc<Plan>,
    req: Arc<Request>,
    /// The tokenizer's count of the prompt, for usage an upstream did not report (computed
    /// once, when first needed: most upstreams report their usage).
    prompt_tokens: OnceLock<u64>,
    pub gen_id: String,
    pub created: u64,
    pub key: Option<Arc<LiveKey>>,
    pub streamed: bool,
    /// The inbound dialect's family (`chat`, `messages`, ...).
    pub dialect: &'static str,
    started: std::time::Instant,
    book: Mutex<Book>,
    /// The tokens reserved against the key's `tpm`, settled at the end.
    tokens: Mutex<Option<Reservation>>,
}

impl Ledger {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: Arc<AppState>,
        snap: Arc<Snapshot>,
        plan: Arc<Plan>,
        req: Arc<Request>,
        gen_id: String,
        created: u64,
        key: Option<Arc<LiveKey>>,
        streamed: bool,
        dialect: &'static str,
    ) -> Arc<Ledger> {
        Arc::new(Ledger {
            state,
            snap,
            plan,
            req,
            prompt_tokens: OnceLock::new(),
            gen_id,
            created,
            key,
            streamed,
            dialect,
            started: std::time::Instant::now(),
            book: Mutex::new(Book::default()),
            tokens: Mutex::new(None),
        })
    }

    /// The request reserved tokens of its key's minute: when it ends, what it really used
    /// replaces them.
    pub fn reserved_tokens(&self, r: Reservation) {
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    }

    /// The prompt's tokens by the tokenizer (bounded in time whatever the text).
    pub fn prompt_tokens(&self) -> u64 {
        *self
            .prompt_tokens
            .get_or_init(|| sy_providers::estimate_prompt_tokens(&self.req.conv))
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An attempt (or an endpoint passed over) and what it cost.
    pub fn push(&self, entry: AttemptLog, usage: Option<&Usage>) {
        let mut b = self.book();
        b.log.push(entry);
        if let Some(u) = usage {
            b.usage.add(u);
        }
    }

    /// Every attempt's usage so far.
    pub fn usage(&self) -> Usage {
        self.book().usage
    }

    /// The log so far.
    pub fn log(&self) -> Vec<AttemptLog> {
        self.book().log.clone()
    }

    /// Upstream calls made so far.
    pub fn calls(&self) -> usize {
        self.book().log.iter().filter(|a| a.called).count()
    }

    /// Sets how the request ended (the first word stands; a cancellation never overrides an
    /// answer or an error already given).
    pub fn end(&self, ending: Ending) {
        let mut b = self.book();
        if b.ending.is_none() {
            b.ending = Some(ending);
        }
    }

    /// The model and provider of the last called attempt, for a request that ended without
    /// an answer.
    fn last_labels(log: &[AttemptLog]) -> (String, String) {
        log.iter()
            .rev()
            .find(|a| a.called)
            .map_or_else(Default::default, |a| (a.model.clone(), a.provider.clone()))
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let book = std::mem::take(&mut *self.book());
        let ending = book
            .ending
            .clone()
            .unwrap_or(Ending::Cancelled("the client went away"));
        let cfg = &self.snap.config;
        let (model, provider, finish, status, cancelled) = match &ending {
            Ending::Answered { at, finish } => {
                let m = &cfg.models[at.model];
                (
                    m.id.clone(),
                    m.endpoints[at.endpoint].provider.clone(),
                    Value::from(finish.map_or("stop", Finish::as_openai)),
                    200,
                    None,
                )
            }
            Ending::Failed(e) => {
                let (m, p) = Self::last_labels(&book.log);
                (m, p, Value::from("error"), e.status, None)
            }
            Ending::Cancelled(why) => {
                let (m, p) = Self::last_labels(&book.log);
                (m, p, Value::from("cancelled"), 499, Some(*why))
            }
        };
        let usage = book.usage;
        let elapsed = self.started.elapsed();
        let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let outcome = match (status, cancelled) {
            (_, Some(_)) => "cancelled",
            (200, _) => "ok",
            (400..=499, _) => "client_error",
            _ => "error",
        };
        crate::metrics::request(&model, outcome, self.streamed, elapsed.as_secs_f64());
        // the route in one line: every attempt as provider(outcome), in order
        let route = book
            .log
            .iter()
            .map(|a| match a.status {
                Some(st) if a.class != "ok" => format!("{}({} {st})", a.provider, a.kind),
                _ => format!("{}({})", a.provider, a.kind),
            })
            .collect::<Vec<_>>()
            .join(" > ");
        let calls = book.log.iter().filter(|a| a.called).count();
        tracing::info!(
            id = %self.gen_id, model = %model, provider = %provider, status, attempts = calls,
            streamed = self.streamed, latency_ms, cost = usage.cost, route = %route,
            cancelled = cancelled.unwrap_or(""), dialect = self.dialect, "request"
        );
        let mut record = json!({
            "id": self.gen_id,
            "created": self.created,
            "model": model,
            "provider": provider,
            "status": status,
            "streamed": self.streamed,
            "dialect": self.dialect,
            "finish_reason": finish,
            "tokens_prompt": usage.prompt_tokens,
            "tokens_completion": usage.completion_tokens,
            "usage": usage,
            "cost": usage.cost,
            "latency_ms": latency_ms,
            "cancelled": cancelled.is_some(),
            "attempts": book.log,
            "plan": crate::plan::to_json(&self.snap, &self.plan),
        });
        if let (Some(why), Some(o)) = (cancelled, record.as_object_mut()) {
            o.insert("cancel_reason".to_owned(), Value::from(why));
        }
        let reserved = *self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(k), Some(r)) = (&self.key, reserved) {
            k.settle_tokens(
                self.state.cluster.as_ref(),
                &self.state.tasks,
                r,
                usage.prompt_tokens.saturating_add(usage.completion_tokens),
            );
        }
        crate::accounting::settle(
            &self.state,
            crate::accounting::Settle {
                gen_id: &self.gen_id,
                key: self.key.as_ref(),
                created: self.created,
                cost: usage.cost,
                record,
            },
        );
    }
}

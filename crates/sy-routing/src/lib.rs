//! The routing core: which endpoints a request tries and in what order (`plan`), what a failed
//! attempt means (`classify`), what each endpoint's record says about its health (`health`), and
//! what an answer costs (`cost`). Pure: time and randomness are arguments, so every decision can
//! be replayed in a test.

mod classify;
mod cost;
pub mod failover;
mod health;
mod plan;
mod resolve;

pub use classify::{classify, Class, Failure, FailureKind};
pub use cost::{cost_usd, per_token_decimal, plain_decimal, Tokens};
pub use failover::Failover;
pub use health::{
    Admit, EndpointHealth, HealthRecord, HealthSummary, Outcome, OutcomeKind, SeriesPoint,
};
pub use plan::{plan, Exclusion, Plan, PlannedAttempt, RequestFacts};
pub use resolve::{check_slugs, resolve_models, Resolved, Variant};

/// Identifies an endpoint inside one config snapshot: `config.models[model].endpoints[endpoint]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointRef {
    pub model: usize,
    pub endpoint: usize,
}

//! Calls to upstream providers: one pooled HTTP client per provider (keep-alive, `TCP_NODELAY`,
//! connect timeout), concurrency permits, and an [`Attempt`] that turns the upstream's answer
//! (SSE stream or whole body) into decoded pieces. Phase timeouts (first token, idle, request)
//! are applied by the caller around [`Attempt::next`], since only it knows the phase.

mod attempt;
mod client;
mod headers;
mod redact;

pub use attempt::Attempt;
pub use client::{ProviderClient, Upstreams};
pub use headers::{rate_limit_reset_s, retry_after_s};
pub use redact::redact;

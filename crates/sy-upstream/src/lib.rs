//! Calls to upstream providers: one pooled HTTP client per provider (keep-alive, `TCP_NODELAY`,
//! connect timeout), its credentials applied per its protocol, concurrency permits that outlive
//! reloads, and an [`Answer`] that feeds the upstream's body to the protocol's decoder and
//! yields typed frames. Phase timeouts (first token, idle, request) are applied by the caller
//! around [`Answer::next`], since only it knows the phase.

mod answer;
mod client;
mod google;
mod headers;
mod limit;
mod redact;
mod sign;

pub use answer::Answer;
pub use client::{transport_failure, ProviderClient, Upstreams};
pub use headers::{rate_limit_reset_s, retry_after_s};
pub use limit::{Limiter, Permit};
pub use redact::redact;

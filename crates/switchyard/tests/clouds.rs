//! The cloud protocols (SPEC §5: `gemini`, `azure`, `bedrock`, `vertex`) through the whole
//! gateway over loopback HTTP against their simulations in `sy-mock`: streamed and whole
//! answers, tool calls, usage and cost, error classification, and failover and resume across
//! clouds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "clouds/azure.rs"]
mod azure;
#[path = "clouds/bedrock.rs"]
mod bedrock;
#[path = "clouds/common.rs"]
mod common;
#[path = "clouds/embeddings.rs"]
mod embeddings;
#[path = "clouds/filters.rs"]
mod filters;
#[path = "clouds/gemini.rs"]
mod gemini;
#[path = "clouds/vertex.rs"]
mod vertex;

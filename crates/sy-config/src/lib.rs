//! Switchyard's configuration: TOML text in, a validated [`Config`] out (SPEC §3).
//!
//! Pure: no IO, no process environment. The caller reads the file and passes an
//! environment lookup, so `${VAR}` interpolation is deterministic under test and
//! the same function serves `serve`, `check` and reload.

mod demo;
mod error;
mod load;
mod model;

pub use demo::DEMO_TOML;
pub use error::{ConfigError, LoadErrors};
pub use load::load;
pub use model::{
    Api, AuthConfig, Cloud, ClusterConfig, Config, Endpoint, Model, ModelKind, Provider,
    RoutingConfig, ServerConfig, StorageConfig,
};

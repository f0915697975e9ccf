//! Loading and hot-reloading the config (SPEC §3): a new config is validated in full and swapped
//! in only when it is good; a bad one is refused with its errors and the old one keeps serving.

use std::path::Path;

use serde_json::Value;
use sy_api::ApiError;
use sy_config::Config;

use crate::state::{AppState, ConfigSource, Snapshot};

/// Reads and validates a config file. Errors are the loader's, one per line.
pub fn load_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    sy_config::load(&text, &path.display().to_string(), env)
        .map_err(|errs| errs.0.iter().map(ToString::to_string).collect())
}

/// Reloads the config from its source; on success the new snapshot serves new requests.
pub fn reload(state: &AppState) -> Result<(), ApiError> {
    let ConfigSource::File(path) = &state.source else {
        return Err(ApiError::new(
            400,
            "the built-in demo catalog has no file to reload",
        ));
    };
    let config = load_file(path, &*state.env).map_err(|errs| {
        ApiError::new(
            400,
            format!(
                "the new config is refused, the old one keeps serving:\n{}",
                errs.join("\n")
            ),
        )
        .with("errors", Value::from(errs))
    })?;
    let snap = Snapshot::next(config, &state.snapshot.load()).map_err(|e| ApiError::new(500, e))?;
    state.snapshot.store(std::sync::Arc::new(snap));
    tracing::info!(path = %path.display(), "config reloaded");
    Ok(())
}

//! The single tables: `[server]`, `[auth]`, `[storage]`, `[cluster]`, `[routing]`. Each
//! returns its value with defaults filling anything absent or rejected (a rejection is
//! already recorded, so the result is never used).

use std::net::SocketAddr;

use secrecy::SecretString;

use super::table::{Bounds, Need, Section};
use super::Cx;
use crate::model::{AuthConfig, ClusterConfig, RoutingConfig, ServerConfig, StorageConfig};

/// A timeout or window in seconds: positive, and at most a year so turning it into a
/// `Duration` or adding it to an `Instant` can never overflow.
const SECONDS: Bounds = Bounds {
    min: 0.0,
    min_exclusive: true,
    max: 31_536_000.0,
};

pub(super) fn server(cx: &mut Cx<'_>, root: &Section<'_>) -> ServerConfig {
    let mut out = ServerConfig::default();
    let Some(t) = root.table(
        cx,
        "server",
        &[
            "listen",
            "max_body_bytes",
            "max_connections",
            "shutdown_grace_s",
            "metrics_public",
        ],
    ) else {
        return out;
    };
    if let Some(listen) = t.string(cx, "listen", Need::Optional) {
        if listen.value.parse::<SocketAddr>().is_ok() {
            out.listen = listen.value;
        } else {
            let message = format!(
                "must be an IP address and port such as `127.0.0.1:8080`, got `{}`",
                listen.value
            );
            cx.error(listen.span, &t.key("listen"), message);
        }
    }
    let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
    if let Some(n) = t.positive_int(cx, "max_body_bytes", Need::Optional, max) {
        out.max_body_bytes = usize::try_from(n.value).unwrap_or(usize::MAX);
    }
    if let Some(n) = t.positive_int(cx, "max_connections", Need::Optional, 10_000_000) {
        out.max_connections = usize::try_from(n.value).unwrap_or(usize::MAX);
    }
    if let Some(n) = t.number(cx, "shutdown_grace_s", Need::Optional, SECONDS) {
        out.shutdown_grace_s = n.value;
    }
    if let Some(b) = t.bool(cx, "metrics_public") {
        out.metrics_public = b;
    }
    out
}

pub(super) fn auth(cx: &mut Cx<'_>, root: &Section<'_>) -> Option<AuthConfig> {
    let t = root.table(cx, "auth", &["master_key"])?;
    let key = t.string(cx, "master_key", Need::Required)?;
    if key.value.is_empty() {
        // An empty master key would make the empty bearer token an administrator.
        cx.error(key.span, &t.key("master_key"), "must not be empty");
        return None;
    }
    Some(AuthConfig {
        master_key: SecretString::from(key.value),
    })
}

pub(super) fn storage(cx: &mut Cx<'_>, root: &Section<'_>) -> StorageConfig {
    let mut out = StorageConfig::default();
    let known = &[
        "url",
        "journal_dir",
        "journal_max_bytes",
        "max_queued_records",
    ];
    let Some(t) = root.table(cx, "storage", known) else {
        return out;
    };
    if let Some(url) = t.string(cx, "url", Need::Optional) {
        let v = &url.value;
        if v.starts_with("sqlite:")
            || v.starts_with("postgres://")
            || v.starts_with("postgresql://")
        {
            out.url = url.value;
        } else {
            // The value is not echoed: a database URL may carry a password.
            let message = "must start with `sqlite:`, `postgres://` or `postgresql://`";
            cx.error(url.span, &t.key("url"), message);
        }
    }
    if let Some(dir) = t.string(cx, "journal_dir", Need::Optional) {
        if dir.value.is_empty() || dir.value.contains('\0') {
            cx.error(
                dir.span,
                &t.key("journal_dir"),
                "must be a directory path (created if missing)",
            );
        } else {
            out.journal_dir = Some(dir.value);
        }
    }
    // at least a few records' worth, so that a journal can hold anything at all
    if let Some(n) = t.positive_int(cx, "journal_max_bytes", Need::Optional, u64::MAX >> 1) {
        if n.value < 4096 {
            let message = format!("must be at least 4096 bytes, got {}", n.value);
            cx.error(n.span, &t.key("journal_max_bytes"), message);
        } else {
            out.journal_max_bytes = n.value;
        }
    }
    if let Some(n) = t.positive_int(cx, "max_queued_records", Need::Optional, 10_000_000) {
        out.max_queued_records = usize::try_from(n.value).unwrap_or(usize::MAX);
    }
    out
}

pub(super) fn cluster(cx: &mut Cx<'_>, root: &Section<'_>) -> Option<ClusterConfig> {
    let t = root.table(cx, "cluster", &["redis_url"])?;
    let url = t.string(cx, "redis_url", Need::Required)?;
    if url.value.starts_with("redis://") || url.value.starts_with("rediss://") {
        Some(ClusterConfig {
            redis_url: SecretString::from(url.value),
        })
    } else {
        cx.error(
            url.span,
            &t.key("redis_url"),
            "must start with `redis://` or `rediss://`",
        );
        None
    }
}

pub(super) fn routing(cx: &mut Cx<'_>, root: &Section<'_>) -> RoutingConfig {
    let mut out = RoutingConfig::default();
    let known = &[
        "outage_window_s",
        "connect_timeout_s",
        "first_token_timeout_s",
        "stream_idle_timeout_s",
        "request_timeout_s",
        "max_attempts",
        "max_retry_wait_s",
        "stream_resume",
        "hedge",
    ];
    let Some(t) = root.table(cx, "routing", known) else {
        return out;
    };
    let seconds = |cx: &mut Cx<'_>, name: &str, slot: &mut f64| {
        if let Some(n) = t.number(cx, name, Need::Optional, SECONDS) {
            *slot = n.value;
        }
    };
    seconds(cx, "outage_window_s", &mut out.outage_window_s);
    seconds(cx, "connect_timeout_s", &mut out.connect_timeout_s);
    seconds(cx, "first_token_timeout_s", &mut out.first_token_timeout_s);
    seconds(cx, "stream_idle_timeout_s", &mut out.stream_idle_timeout_s);
    seconds(cx, "request_timeout_s", &mut out.request_timeout_s);
    seconds(cx, "max_retry_wait_s", &mut out.max_retry_wait_s);
    if let Some(n) = t.positive_int(cx, "max_attempts", Need::Optional, u64::from(u32::MAX)) {
        out.max_attempts = u32::try_from(n.value).unwrap_or(u32::MAX);
    }
    if let Some(b) = t.bool(cx, "stream_resume") {
        out.stream_resume = b;
    }
    if let Some(b) = t.bool(cx, "hedge") {
        out.hedge = b;
    }
    out
}

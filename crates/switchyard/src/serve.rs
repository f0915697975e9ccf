//! `serve` and `mock`: start-up, signals (SIGHUP reloads; SIGTERM/SIGINT stop gracefully).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use sy_server::{AppState, ConfigSource, EnvLookup, Snapshot, Storage};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

const DEFAULT_CONFIG: &str = "switchyard.toml";
/// After the grace period, requests still open get this long to end (streams write their error
/// event and `[DONE]`; every request is charged and recorded).
const CUT_OFF: Duration = Duration::from_secs(5);
/// Queued generation records get this long to reach the store on shutdown; what is left then
/// goes to the local journal, for the next start.
const STORE_FLUSH: Duration = Duration::from_secs(10);

pub async fn serve(config: Option<PathBuf>, listen: Option<String>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    sy_server::install_metrics();
    // the tokenizer (~17 MB of tables, a fraction of a second to build) is loaded now, off the
    // request path: else the first estimate — often a cancelled attempt's, in a worker thread —
    // would stall every request on that thread while it loads
    let warm = std::thread::Builder::new()
        .name("tokenizer-warm".to_owned())
        .spawn(|| sy_providers::estimate_text_tokens("warm"));
    if let Err(e) = warm {
        tracing::warn!(error = %e, "tokenizer not loaded ahead: the first estimate loads it");
    }
    let (cfg, source, env) = load_or_demo(config, &shutdown).await?;
    let listen = listen.unwrap_or_else(|| cfg.server.listen.clone());
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen address `{listen}`"))?;
    let storage = storage(&cfg).await?;
    let max_connections = cfg.server.max_connections;
    let grace = Duration::from_secs_f64(cfg.server.shutdown_grace_s);
    warn_if_few_descriptors(max_connections);
    let redis_url = cfg
        .cluster
        .as_ref()
        .map(|c| secrecy::ExposeSecret::expose_secret(&c.redis_url).to_owned());
    let snap = Snapshot::new(cfg).map_err(|e| anyhow!(e))?;
    let state = match redis_url {
        Some(url) => {
            let state =
                AppState::clustered(snap, source, env, Some(storage), &url, shutdown.clone())
                    .map_err(|e| anyhow!(e))?;
            tracing::info!("[cluster]: health and key limits shared through redis");
            state
        }
        None => AppState::new(snap, source, env, Some(storage)),
    };
    sy_server::start_background(&state, shutdown.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, "switchyard serving");
    spawn_signals(Arc::clone(&state), shutdown.clone())?;
    let app = sy_server::router(Arc::clone(&state));
    // TCP_NODELAY, a header read timeout and a connection cap (axum::serve has neither)
    let server = tokio::spawn(sy_server::serve_with_limits(
        listener,
        app,
        sy_server::ConnLimits {
            max_connections,
            ..sy_server::ConnLimits::default()
        },
        shutdown.clone(),
    ));
    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing in-flight requests");
    state.tasks.close();
    let mut server = server;
    let drained = tokio::time::timeout(grace, async {
        let _ = (&mut server).await;
        state.tasks.wait().await;
    })
    .await;
    if drained.is_err() {
        // SPEC §8: what is still open now ends — a stream with the error event and [DONE], a
        // collected answer with a 503 — and is charged and recorded like any other request
        tracing::warn!(
            grace_s = grace.as_secs_f64(),
            "shutdown grace over: ending the requests still open"
        );
        state.ending.cancel();
        let ended = tokio::time::timeout(CUT_OFF, async {
            let _ = (&mut server).await;
            state.tasks.wait().await;
        })
        .await;
        if ended.is_err() {
            tracing::warn!("requests still open after the cut-off: exiting anyway");
        }
    }
    if let Some(s) = &state.storage {
        // what the store does not take in time is put in the journal (the writer logs any
        // record that could go neither way)
        let _ = s.writer.clone().shutdown(STORE_FLUSH).await;
        s.store.close().await;
    }
    Ok(())
}

/// Each client connection may need an upstream one: below about twice `max_connections` file
/// descriptors, accepts fail before the cap is reached. Said once at start-up (read from
/// /proc; raise with `ulimit -n` or systemd's `LimitNOFILE`).
fn warn_if_few_descriptors(max_connections: usize) {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<usize>().ok())
        });
    if let Some(soft) = soft {
        if soft < max_connections.saturating_mul(2) + 64 {
            tracing::warn!(
                open_files_limit = soft,
                max_connections,
                "the open-files limit is below twice [server] max_connections: raise it (ulimit -n) or lower max_connections"
            );
        }
    }
}

/// The store of `[storage]` (the demo keeps its records in memory), connected lazily so the
/// gateway serves even while the database is down, with its background writer and local
/// journal (whose records from a previous run are written to the store from now on).
async fn storage(cfg: &sy_config::Config) -> anyhow::Result<Storage> {
    let url = if cfg.demo {
        "sqlite::memory:"
    } else {
        cfg.storage.url.as_str()
    };
    let store = sy_store::Store::connect_lazy(url).map_err(|e| anyhow!("[storage] url: {e}"))?;
    let journal = journal_dir(&cfg.storage, url).map(|dir| sy_store::JournalConfig {
        dir,
        max_bytes: cfg.storage.journal_max_bytes,
    });
    let config = sy_store::WriterConfig {
        capacity: cfg.storage.max_queued_records,
        journal,
    };
    let writer = sy_store::Writer::start_with(store.clone(), config).map_err(|e| {
        anyhow!("[storage] journal: {e} (each instance needs a journal_dir of its own)")
    })?;
    if let Some(dir) = writer.journal_dir() {
        tracing::info!(journal = %dir.display(), "finished requests wait in this journal until the store has them");
    }
    let probe = store.clone();
    tokio::spawn(async move {
        match probe.ping().await {
            Ok(()) => tracing::info!(backend = probe.backend(), "store ready"),
            Err(e) => {
                tracing::warn!(error = %e, "store unreachable at start-up: serving anyway; records are kept until it returns")
            }
        }
    });
    Ok(Storage { store, writer })
}

/// Where the journal lives: `[storage] journal_dir`; else beside an SQLite file
/// (`<file>.journal`), or `switchyard.journal` in the working directory for PostgreSQL. An
/// in-memory database gets none: its records would not outlive the process anyway.
fn journal_dir(storage: &sy_config::StorageConfig, url: &str) -> Option<PathBuf> {
    if let Some(dir) = &storage.journal_dir {
        return Some(PathBuf::from(dir));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Some(PathBuf::from("switchyard.journal"));
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.journal")))
}

/// The config file, or — when none is given and `switchyard.toml` does not exist — the demo
/// catalog with its simulated providers started in-process.
async fn load_or_demo(
    config: Option<PathBuf>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(sy_config::Config, ConfigSource, EnvLookup)> {
    let explicit = config.is_some();
    let path = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    if path.exists() || explicit {
        let cfg = sy_server::load_file(&path, &crate::env_lookup).map_err(|errors| {
            anyhow!(
                "{} is not a valid config:\n{}",
                path.display(),
                errors.join("\n")
            )
        })?;
        tracing::info!(config = %path.display(), providers = cfg.providers.len(), models = cfg.models.len(), "config loaded");
        return Ok((cfg, ConfigSource::File(path), Box::new(crate::env_lookup)));
    }
    let mock_cfg = sy_mock::MockConfig::from_toml(sy_mock::DEMO_MOCK_TOML)
        .map_err(|e| anyhow!("demo providers: {e}"))?;
    let mock = sy_mock::MockServer::start(
        mock_cfg,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        shutdown.clone(),
    )
    .await
    .context("starting the demo's simulated providers")?;
    let url = mock.url();
    // the simulated Vertex AI's service account, as a file like Google's console gives
    let sa_file =
        std::env::temp_dir().join(format!("switchyard-demo-sa-{}.json", std::process::id()));
    std::fs::write(
        &sa_file,
        sy_mock::service_account_json(&format!("{url}/token")),
    )
    .context("writing the demo's service-account file")?;
    let sa_path = sa_file.display().to_string();
    let lookup = move |k: &str| match k {
        "SWITCHYARD_DEMO_MOCK" => Some(url.clone()),
        "SWITCHYARD_DEMO_AWS_ACCESS_KEY_ID" => Some(sy_mock::MOCK_AWS_ACCESS_KEY_ID.to_owned()),
        "SWITCHYARD_DEMO_AWS_SECRET_ACCESS_KEY" => {
            Some(sy_mock::MOCK_AWS_SECRET_ACCESS_KEY.to_owned())
        }
        "SWITCHYARD_DEMO_VERTEX_CREDENTIALS" => Some(sa_path.clone()),
        _ => None,
    };
    let mut cfg = sy_config::load(sy_config::DEMO_TOML, "<demo catalog>", &lookup)
        .map_err(|e| anyhow!("demo catalog: {e}"))?;
    cfg.demo = true;
    tracing::info!(
        simulated_providers = %mock.url(),
        "no {DEFAULT_CONFIG} here: serving the built-in demo catalog (simulated providers, no keys needed)"
    );
    // the simulated providers live as long as the process; the shutdown token stops them
    tokio::spawn(mock.wait());
    Ok((cfg, ConfigSource::Demo, Box::new(|_: &str| None)))
}

fn spawn_signals(state: Arc<AppState>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => match sy_server::reload(&state) {
                    Ok(()) => {}
                    Err(e) => tracing::error!(error = %e.message, "reload on SIGHUP refused; the old config keeps serving"),
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        shutdown.cancel();
    });
    Ok(())
}

pub async fn mock(listen: Option<String>, config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = match &config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            sy_mock::MockConfig::from_toml(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?
        }
        None => sy_mock::MockConfig::default(),
    };
    let listen = listen
        .or_else(|| cfg.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:9100".to_owned());
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen address `{listen}`"))?;
    let shutdown = CancellationToken::new();
    let server = sy_mock::MockServer::start(cfg, addr, shutdown.clone())
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(listen = %server.url(), "switchyard mock serving (OpenAI: /v1/chat/completions, Anthropic: /v1/messages, per provider: /p/NAME/v1/...)");
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    shutdown.cancel();
    server.wait().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::journal_dir;

    #[test]
    fn the_journal_sits_beside_an_sqlite_file_or_in_the_working_directory() {
        let none = sy_config::StorageConfig::default();
        for (url, want) in [
            ("sqlite://switchyard.db", Some("switchyard.db.journal")),
            (
                "sqlite:///var/lib/sy/a.db?mode=rwc",
                Some("/var/lib/sy/a.db.journal"),
            ),
            ("sqlite:data/x.db", Some("data/x.db.journal")),
            ("sqlite::memory:", None),
            ("sqlite://file.db?mode=memory", None),
            ("postgres://u@h/db", Some("switchyard.journal")),
        ] {
            let got = journal_dir(&none, url);
            assert_eq!(got.as_deref(), want.map(std::path::Path::new), "{url}");
        }
        let set = sy_config::StorageConfig {
            journal_dir: Some("/srv/j".to_owned()),
            ..sy_config::StorageConfig::default()
        };
        assert_eq!(
            journal_dir(&set, "sqlite::memory:"),
            Some(std::path::PathBuf::from("/srv/j"))
        );
    }
}

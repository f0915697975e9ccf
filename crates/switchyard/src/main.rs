//! `switchyard`: the command line of SPEC §2 — `serve`, `check`, `explain`, `mock`.

mod logging;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's malloc: the request path allocates many small, short-lived
/// objects (JSON values, headers, chunks); the profile showed a sixth of the gateway's CPU in
/// glibc malloc/free. (`--features system-alloc` keeps glibc's, for heap profilers.)
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A self-hosted LLM routing gateway"
)]
struct Cli {
    /// Log format on stderr (filter with RUST_LOG).
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (with no config file: the built-in demo catalog).
    Serve {
        /// Config file [default: switchyard.toml; when it does not exist, the demo catalog].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address, overriding the config's `[server] listen`.
        #[arg(long, env = "SWITCHYARD_LISTEN")]
        listen: Option<String>,
    },
    /// Validate a config and print every error with its location; exit 1 on error.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the plan for a request body, calling no upstream.
    Explain {
        #[arg(long)]
        config: PathBuf,
        /// A chat-completion request body (JSON).
        #[arg(long)]
        request: PathBuf,
    },
    /// Run the simulated upstream provider (OpenAI- and Anthropic-compatible).
    Mock {
        #[arg(long, env = "SWITCHYARD_LISTEN")]
        listen: Option<String>,
        /// Mock config (TOML): providers and their behaviours.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = logging::init(cli.log_format);
    match cli.command {
        Command::Serve { config, listen } => run(serve::serve(config, listen)),
        Command::Mock { listen, config } => run(serve::mock(listen, config)),
        Command::Check { config } => match sy_server::load_file(&config, &env_lookup) {
            Ok(c) => {
                println!(
                    "{}: OK ({} providers, {} models)",
                    config.display(),
                    c.providers.len(),
                    c.models.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                eprintln!("{}: {} error(s)", config.display(), errors.len());
                ExitCode::from(1)
            }
        },
        Command::Explain { config, request } => {
            let cfg = match sy_server::load_file(&config, &env_lookup) {
                Ok(c) => c,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    return ExitCode::from(1);
                }
            };
            let body = match std::fs::read(&request) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {}: {e}", request.display());
                    return ExitCode::from(1);
                }
            };
            match sy_server::explain_offline(cfg, &body) {
                Ok(plan) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&plan).unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {} ({})", e.message, e.status);
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

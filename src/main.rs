//! Thin entry point: parse the command line, start logging (and trace export), dispatch.

use clap::Parser;
use user_profile_service::{
    cli::{self, Cli, Command},
    http, server, telemetry,
};

/// mimalloc instead of the system allocator: per-thread free lists suit a server that allocates and frees small
/// buffers on every request from two worker threads (docs/benchmarks.md, "Second round").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let (config, secret_file) = match cli::load_config() {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    let telemetry = matches!(command, Command::Serve | Command::Migrate).then(|| {
        let telemetry = telemetry::init(&config);
        if let Some(path) = &secret_file {
            tracing::info!(path = %path.display(), "development JWT secret generated or reused (owner-only); `token` signs with it");
        }
        telemetry
    });
    let result = match command {
        Command::Serve => server::serve(config).await,
        Command::Migrate => cli::migrate(&config).await,
        Command::Token {
            sub,
            roles,
            scope,
            ttl,
            auth_time,
        } => cli::token(&config, sub, roles, scope, ttl, auth_time).map(|t| println!("{t}")),
        Command::Openapi => serde_json::to_string_pretty(&http::openapi())
            .map(|s| println!("{s}"))
            .map_err(Into::into),
        Command::Healthcheck => cli::healthcheck(&config).await,
    };
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

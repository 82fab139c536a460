//! Logging set-up: human-readable lines on stderr, filtered by `-l` /
//! `RUST_LOG`. Passwords, tokens and secret values are never logged.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a level (`info`) or a full
/// filter (`info,aerie_gateway=debug`); `RUST_LOG` wins when set.
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests that start several servers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

//! `aerie`: run Aerie's servers and administer an instance.

use std::path::PathBuf;
use std::process::ExitCode;

use aerie::{admin, server};
use aerie_auth_svc::sync_access::Outcome;
use aerie_common::config::Config;
use clap::{Args, Parser, Subcommand};

/// glibc's allocator slowed down as a server's heap grew with its tenants
/// (malloc from 3% to 10% of the CPU of a read between 10 and 3,000
/// tenants); mimalloc stays flat. Built without transparent huge pages
/// (`no_thp`): with them, each fresh 2 MiB of mimalloc's arenas was zeroed
/// at its first touch, and the scheduler's start with 100,000 triggers
/// spent 60% of its CPU clearing pages (2.2-4.6 s, 1.4 s without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aerie: multi-tenant workflow orchestration control plane.
#[derive(Debug, Parser)]
#[command(name = "aerie", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Configuration file (YAML); environment variables AERIE_* override it.
    #[arg(short = 'c', long = "config", global = true, env = "AERIE_CONFIG")]
    config: Option<PathBuf>,
    /// Log level or filter (error, warn, info, debug, trace); default info
    /// for servers, warn for admin commands.
    #[arg(short = 'l', long = "log-level", global = true, value_parser = log_filter)]
    log_level: Option<String>,
    /// More log output (-v debug, -vv trace); overrides --log-level.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run servers.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage users and signing keys.
    #[command(subcommand)]
    Auths(AuthsCommand),
    /// Manage executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// Delete executions that ended before a date, with their task runs,
    /// logs and files (running ones are kept).
    Purge {
        /// The tenant; leave out for the default tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// RFC 3339 date-time (2026-01-01T00:00:00Z) or a date (2026-01-01, midnight UTC).
        #[arg(long)]
        before: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuthsCommand {
    /// Users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        username: String,
        /// 8 to 256 characters.
        #[arg(long, env = "AERIE_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Make the user a super admin.
        #[arg(long)]
        super_admin: bool,
    },
    /// List users.
    List,
    /// With --tenant, give every user, group and service account of that
    /// tenant the bindings it holds in the default tenant (idempotent);
    /// without it, report each user's tenants and roles.
    SyncAccess {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Sign new tokens with a new key; tokens of older keys stay valid until they expire.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Every service and the gateway in one process (SQLite under data-dir by default).
    Standalone,
    /// The gateway alone (REST, the web UI and the public gRPC endpoint); finds services at aerie.endpoints.*.
    Gateway,
    /// The tenant service alone.
    Tenant,
    /// The auth service alone.
    Auth,
    /// The flow service alone (flows, secrets, KV, trigger definitions).
    Flow,
    /// The execution service alone (executions, executor, logs, storage, triggers).
    Execution,
}

impl ServerCommand {
    /// The process's role, as in `aerie server <name>` and `service.name`.
    fn name(&self) -> &'static str {
        match self {
            ServerCommand::Standalone => "standalone",
            ServerCommand::Gateway => "gateway",
            ServerCommand::Tenant => "tenant",
            ServerCommand::Auth => "auth",
            ServerCommand::Flow => "flow",
            ServerCommand::Execution => "execution",
        }
    }
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// Tenant id: ^[a-z0-9][a-z0-9_-]{0,99}$.
        #[arg(long)]
        tenant: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Give this user the tenant's Admin role at once.
        #[arg(long)]
        admin_username: Option<String>,
    },
    /// List live tenants.
    List,
    /// Delete a tenant (soft: data is kept, the id is never reused).
    Delete {
        #[arg(long)]
        tenant: String,
    },
    /// Restore a deleted tenant, with the data and bindings its deletion kept.
    Restore {
        #[arg(long)]
        tenant: String,
    },
    /// Show a tenant's quotas (in force, and which are its own), or change them.
    Quotas {
        #[arg(long)]
        tenant: String,
        /// Give the tenant its own quota: NAME=VALUE, NAME as under
        /// aerie.tenants.quotas (e.g. running-executions=8). Repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Drop the tenant's own quota NAME: the instance default applies. Repeatable.
        #[arg(long = "unset", value_name = "NAME")]
        unset: Vec<String>,
    },
    /// Write everything a tenant owns to an archive (a zstd-compressed
    /// tar), with the server stopped.
    Export {
        /// The tenant; `_default` for the default tenant.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        output: PathBuf,
        /// A file holding a transfer key (base64 of 32 bytes) that seals
        /// the tenant's secrets in the archive; needed when it has any.
        #[arg(long)]
        secrets_key_file: Option<PathBuf>,
    },
    /// Recreate an exported tenant under a new id, with the server stopped.
    Import {
        /// The new tenant's id; it must not exist (nor have existed).
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        input: PathBuf,
        /// Display name (default: the exported tenant's).
        #[arg(long)]
        name: Option<String>,
        /// The transfer key the archive's secrets were sealed with.
        #[arg(long)]
        secrets_key_file: Option<PathBuf>,
    },
    /// Move the default tenant's data into a new tenant, so that the
    /// instance can run with default-tenant off; with the server stopped.
    AdoptDefault {
        #[arg(long)]
        tenant: String,
        /// Display name (default: the tenant id).
        #[arg(long)]
        name: Option<String>,
    },
}

/// A level or a filter of `target=level` directives. Anything else is
/// refused: tracing would take an unknown word for a target name and then
/// log nothing at all.
fn log_filter(text: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |word: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word));
    let is_target = |word: &str| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-')
    };
    let valid = !text.is_empty()
        && text
            .split(',')
            .all(|directive| match directive.split_once('=') {
                Some((target, level)) => is_target(target) && is_level(level),
                None => is_level(directive),
            });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a log level: use one of {} or a filter such as info,aerie_gateway=debug",
            LEVELS.join(", ")
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Server(_) => "info",
        Command::Tenants(_) | Command::Auths(_) | Command::Executions(_) => "warn",
    };
    let level = match cli.global.verbose {
        0 => cli.global.log_level.as_deref().unwrap_or(default_level),
        1 => "debug",
        _ => "trace",
    };
    let config = match Config::load(cli.global.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            aerie_common::telemetry::init(level);
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(aerie_common::kestra::RUNTIME_THREAD_STACK)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Dropped after the command ends: flushes the spans still batched.
    let _telemetry = match (&cli.command, &config.telemetry.otlp_endpoint) {
        (Command::Server(which), Some(endpoint)) => {
            let export = aerie_common::telemetry::TraceExport {
                endpoint: endpoint.clone(),
                service_name: format!("aerie-{}", which.name()),
            };
            let _runtime = runtime.enter();
            match aerie_common::telemetry::init_with_traces(level, export) {
                Ok(telemetry) => Some(telemetry),
                Err(err) => {
                    eprintln!("error: cannot export traces to {endpoint}: {err}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => {
            aerie_common::telemetry::init(level);
            None
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), server::BoxError> {
    match command {
        Command::Server(which) => {
            let data_dir = std::path::absolute(&config.data_dir).unwrap_or(config.data_dir.clone());
            tracing::info!(data_dir = %data_dir.display(), "data directory (SQLite files, local storage, generated keys)");
            let shutdown = aerie_common::shutdown::on_signal();
            let grace = std::time::Duration::from_secs(config.server.shutdown_timeout);
            // After SIGTERM, open requests and streams get `grace` to end;
            // a client that never lets go does not keep the process alive.
            let deadline = {
                let shutdown = shutdown.clone();
                async move {
                    shutdown.cancelled().await;
                    tokio::time::sleep(grace).await;
                }
            };
            let serve = async move {
                match which {
                    ServerCommand::Standalone => server::run_standalone(config, shutdown).await,
                    ServerCommand::Gateway => server::run_gateway(config, shutdown).await,
                    ServerCommand::Tenant => server::run_tenant(config, shutdown).await,
                    ServerCommand::Auth => server::run_auth(config, shutdown).await,
                    ServerCommand::Flow => server::run_flow(config, shutdown).await,
                    ServerCommand::Execution => server::run_execution(config, shutdown).await,
                }
            };
            tokio::select! {
                result = serve => result,
                () = deadline => {
                    tracing::warn!(seconds = grace.as_secs(),
                        "aerie.server.shutdown-timeout passed with requests still open; stopping now");
                    Ok(())
                }
            }
        }
        Command::Tenants(TenantsCommand::Create {
            tenant,
            name,
            admin_username,
        }) => {
            let created =
                admin::create_tenant(&config, &tenant, &name, admin_username.as_deref()).await?;
            println!("created tenant {} ({})", created.id, created.name);
            Ok(())
        }
        Command::Tenants(TenantsCommand::List) => {
            let tenants = admin::list_tenants(&config).await?;
            println!("{:<30} NAME", "ID");
            for tenant in tenants {
                println!("{:<30} {}", tenant.id, tenant.name);
            }
            Ok(())
        }
        Command::Tenants(TenantsCommand::Delete { tenant }) => {
            admin::delete_tenant(&config, &tenant).await?;
            println!("deleted tenant {tenant}");
            Ok(())
        }
        Command::Tenants(TenantsCommand::Restore { tenant }) => {
            admin::restore_tenant(&config, &tenant).await?;
            println!("restored tenant {tenant}");
            Ok(())
        }
        Command::Executions(ExecutionsCommand::Purge { tenant, before }) => {
            let purged = admin::purge_executions(&config, tenant.as_deref(), &before).await?;
            println!("purged {purged} executions");
            Ok(())
        }
        Command::Tenants(TenantsCommand::Export {
            tenant,
            output,
            secrets_key_file,
        }) => {
            let manifest =
                admin::export_tenant(&config, &tenant, &output, secrets_key_file.as_deref())
                    .await?;
            println!(
                "exported tenant {} to {} ({} entries, {} secrets sealed)",
                manifest.tenant,
                output.display(),
                manifest.entries.len(),
                manifest.sealed_secrets
            );
            Ok(())
        }
        Command::Tenants(TenantsCommand::Import {
            tenant,
            input,
            name,
            secrets_key_file,
        }) => {
            let notes = admin::import_tenant(
                &config,
                &tenant,
                &input,
                name.as_deref(),
                secrets_key_file.as_deref(),
            )
            .await?;
            for note in notes {
                println!("note: {note}");
            }
            println!("imported tenant {tenant} from {}", input.display());
            Ok(())
        }
        Command::Tenants(TenantsCommand::AdoptDefault { tenant, name }) => {
            let notes = admin::adopt_default(&config, &tenant, name.as_deref()).await?;
            for note in notes {
                println!("note: {note}");
            }
            println!("moved the default tenant's data into tenant {tenant}");
            Ok(())
        }
        Command::Tenants(TenantsCommand::Quotas { tenant, set, unset }) => {
            let quotas = admin::tenant_quotas(&config, &tenant, &set, &unset).await?;
            println!("{:<28} {:>14}  SOURCE", "QUOTA", "IN FORCE");
            for (name, value, own) in quotas {
                let source = if own { "tenant" } else { "default" };
                println!("{name:<28} {value:>14}  {source}");
            }
            Ok(())
        }
        Command::Auths(AuthsCommand::Users(UsersCommand::Create {
            username,
            password,
            super_admin,
        })) => {
            let user = admin::create_user(&config, &username, &password, super_admin).await?;
            let kind = if user.super_admin {
                " (super admin)"
            } else {
                ""
            };
            println!("created user {}{kind}", user.username);
            Ok(())
        }
        Command::Auths(AuthsCommand::Users(UsersCommand::List)) => {
            println!("{:<40} SUPER-ADMIN", "USERNAME");
            for user in admin::list_users(&config).await? {
                println!("{:<40} {}", user.username, user.super_admin);
            }
            Ok(())
        }
        Command::Auths(AuthsCommand::Users(UsersCommand::SyncAccess {
            tenant: Some(tenant),
        })) => {
            let synced = admin::sync_access(&config, &tenant).await?;
            let mut counts = [0; 3];
            for binding in &synced {
                let (word, at) = match &binding.outcome {
                    Outcome::Added => ("added", 0),
                    Outcome::Present => ("present", 1),
                    Outcome::Skipped(_) => ("skipped", 2),
                };
                counts[at] += 1;
                let namespace = binding
                    .namespace
                    .as_deref()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default();
                let reason = match &binding.outcome {
                    Outcome::Skipped(reason) => format!(": {reason}"),
                    _ => String::new(),
                };
                println!(
                    "{word:<8} {} {} {}{namespace}{reason}",
                    binding.subject_type.as_str(),
                    binding.subject,
                    binding.role
                );
            }
            println!(
                "{tenant}: {} added, {} present already, {} skipped",
                counts[0], counts[1], counts[2]
            );
            Ok(())
        }
        Command::Auths(AuthsCommand::Users(UsersCommand::SyncAccess { tenant: None })) => {
            for user in admin::access_report(&config).await? {
                let who = if user.super_admin {
                    format!("{} (super admin)", user.username)
                } else {
                    user.username
                };
                if user.tenants.is_empty() {
                    println!("{who}: no access to any tenant");
                    continue;
                }
                let held: Vec<String> = user
                    .tenants
                    .into_iter()
                    .map(|(tenant, roles)| {
                        format!(
                            "{}: {}",
                            tenant.as_deref().unwrap_or("(default)"),
                            roles.join(", ")
                        )
                    })
                    .collect();
                println!("{who}: {}", held.join("; "));
            }
            Ok(())
        }
        Command::Auths(AuthsCommand::Keys(KeysCommand::Rotate)) => {
            let kid = admin::rotate_key(&config).await?;
            println!("new signing key {kid}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn log_levels_and_filters_are_checked() {
        for ok in [
            "info",
            "WARN",
            "off",
            "info,aerie_gateway=debug",
            "aerie_common::db=trace",
        ] {
            assert_eq!(log_filter(ok).as_deref(), Ok(ok));
        }
        for bad in ["loud", "", "info,", "aerie=loud", "=info", "info debug"] {
            let err = log_filter(bad).expect_err(bad);
            assert!(err.contains("is not a log level"), "{bad}: {err}");
        }
    }
}

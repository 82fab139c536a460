//! Five `aerie server <service>` processes on loopback, one per service,
//! each with its own gRPC (or HTTP) and metrics port.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The services in start order; the gateway last.
pub const SERVICES: [&str; 5] = ["auth", "tenant", "flow", "execution", "gateway"];

/// A free loopback port for a child to take. Chosen below Linux's
/// ephemeral range (32768 and up): a port the kernel handed out for port 0
/// could be handed again to an outgoing connection of another test (a
/// database client, say) before the child binds it. Never the same port
/// twice in one run.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    // Start where another run on this machine is unlikely to be.
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Child processes stopped with SIGTERM when the test ends; each must exit 0.
pub struct Processes(Vec<std::process::Child>);

impl Processes {
    pub fn stop(mut self) {
        for child in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            let status = child.wait().expect("wait");
            assert!(
                status.success(),
                "a service did not stop cleanly: {status:?}"
            );
        }
        self.0.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running cluster of five processes.
pub struct Cluster {
    pub processes: Processes,
    /// The gateway's base URL.
    pub http: String,
    /// Each service's metrics port, by service name.
    pub metrics: HashMap<&'static str, u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the five processes (multi-tenancy on, super admin
    /// `admin`/`admin-password`, SQLite under a fresh data-dir) with `env`
    /// added to each, and waits until the gateway reports them all healthy.
    pub async fn start(env: &[(&str, String)]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics: HashMap<&'static str, u16> =
            SERVICES.iter().map(|s| (*s, free_port())).collect();
        let path = dir.path().join("aerie.yml");
        std::fs::write(
            &path,
            format!(
                "aerie:\n  tenants:\n    enabled: true\n  security:\n    super-admin:\n      username: admin\n      password: admin-password\n    service-token: shared-service-token-for-this-test\n  data-dir: {}\n",
                dir.path().join("data").display(),
            ),
        )
        .expect("write config");
        let five = spawn_five(&path, |service| {
            let mut vars = vec![("AERIE_SERVER_METRICS_PORT", metrics[service].to_string())];
            vars.extend(env.iter().map(|(k, v)| (*k, v.clone())));
            vars
        })
        .await;
        Cluster {
            processes: five.processes,
            http: format!("http://127.0.0.1:{}", five.http_port),
            metrics,
            _dir: dir,
        }
    }
}

/// Five running processes and where they listen.
pub struct Five {
    pub processes: Processes,
    pub http_port: u16,
    /// gRPC port of each service and of the gateway's public endpoint.
    pub grpc: HashMap<&'static str, u16>,
}

/// Starts `aerie -c <config> server <service>` for each of the five, each
/// on a port of its own that the others reach it at (`AERIE_ENDPOINTS_*`),
/// with `extra(service)` added to its environment, and waits until the
/// gateway reports every service healthy.
pub async fn spawn_five<'a>(config: &Path, extra: impl Fn(&str) -> Vec<(&'a str, String)>) -> Five {
    let grpc: HashMap<&'static str, u16> = SERVICES.iter().map(|s| (*s, free_port())).collect();
    let http_port = free_port();
    let endpoints: Vec<(String, String)> = grpc
        .iter()
        .filter(|(service, _)| **service != "gateway")
        .map(|(service, port)| {
            (
                format!("AERIE_ENDPOINTS_{}", service.to_uppercase()),
                format!("http://127.0.0.1:{port}"),
            )
        })
        .collect();
    let processes = Processes(
        SERVICES
            .iter()
            .map(|service| {
                let http = match *service {
                    "gateway" => vec![("AERIE_SERVER_HTTP_PORT", http_port.to_string())],
                    _ => Vec::new(),
                };
                spawn(config, service)
                    .env("AERIE_SERVER_GRPC_PORT", grpc[service].to_string())
                    .envs(http)
                    .envs(endpoints.iter().map(|(k, v)| (k, v)))
                    .envs(extra(service))
                    .spawn()
                    .expect("spawn")
            })
            .collect(),
    );
    // Generous: CI runs two such tests at once on two cores, debug builds.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut processes = processes;
    loop {
        let healthy = crate::app::http_client()
            .get(format!("http://127.0.0.1:{http_port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if healthy {
            break;
        }
        // A process that died will not become healthy: say which at once.
        for (service, child) in SERVICES.iter().zip(processes.0.iter_mut()) {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(log_path(config, service)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "{service} exited while the five processes started: {status}; its log ends:\n{}",
                    tail.join("\n")
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "the five processes never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Five {
        processes,
        http_port,
        grpc,
    }
}

fn spawn(config: &Path, service: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aerie"));
    command
        .arg("-c")
        .arg(config)
        .args(["-l", "warn", "server", service])
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("AERIE_TEST_SHOW_LOGS").is_some() {
            Stdio::inherit()
        } else {
            // Kept beside the config so that a process dying at start says why.
            std::fs::File::create(log_path(config, service))
                .map_or_else(|_| Stdio::null(), Stdio::from)
        });
    command
}

fn log_path(config: &Path, service: &str) -> std::path::PathBuf {
    config.with_file_name(format!("{service}.stderr.log"))
}

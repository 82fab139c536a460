//! The `aerie server standalone` process a benchmark runs against.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server when the bench ends, however it ends.
pub struct Server(Child);

impl Server {
    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_server(dir: &std::path::Path) -> (Server, String, String) {
    start_server_with(dir, "")
}

/// Starts the server with `extra` appended under `aerie:` (YAML, indented
/// by two spaces). Per-tenant quotas are lifted: the benchmarks measure
/// what the instance does, mostly for one tenant.
pub fn start_server_with(dir: &std::path::Path, extra: &str) -> (Server, String, String) {
    start_server_quotas(
        dir,
        "    quotas:\n      running-executions: 1000000\n      queued-executions: 1000000\n      executions-per-minute: 1000000\n",
        extra,
    )
}

/// Starts the server with `quotas` under `aerie.tenants` (YAML indented by
/// four spaces; empty: the instance defaults) and `extra` under `aerie`.
pub fn start_server_quotas(
    dir: &std::path::Path,
    quotas: &str,
    extra: &str,
) -> (Server, String, String) {
    let config = dir.join("aerie.yml");
    std::fs::write(
        &config,
        format!(
            "aerie:\n  tenants:\n    enabled: true\n{quotas}  security:\n    super-admin:\n      username: bench\n      password: bench-password\n    token-ttl: 7200\n  server:\n    http-port: 0\n    grpc-port: 0\n  data-dir: {}\n{extra}",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    let (child, ready) = spawn_aerie(&config, "standalone", "aerie standalone ready");
    let field = |name: &str| {
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .expect("address in ready line")
            .to_owned()
    };
    let (http, grpc) = (field("http="), field("grpc="));
    (
        Server(child),
        format!("http://{http}"),
        format!("http://{grpc}"),
    )
}

/// The server's log filter unless `AERIE_BENCH_SERVER_LOG` says otherwise.
const DEFAULT_SERVER_LOG: &str = "warn,aerie=info,aerie_gateway::access=warn";

/// Starts `aerie -c <config> server <component>` and waits for the log line
/// containing `ready`, which it answers; the log is drained from then on.
/// `AERIE_BENCH_SERVER_LOG` sets the server's log filter (default
/// `warn,aerie=info,aerie_gateway::access=warn`: Aerie's own messages, but
/// not one access line per request).
pub fn spawn_aerie(config: &std::path::Path, component: &str, ready: &str) -> (Child, String) {
    let aerie = std::env::current_exe()
        .expect("own path")
        .with_file_name("aerie");
    assert!(
        aerie.exists(),
        "build the server first: cargo build --release -p aerie"
    );
    let mut child = Command::new(aerie)
        .arg("-c")
        .arg(config)
        .arg("-l")
        .arg(std::env::var("AERIE_BENCH_SERVER_LOG").unwrap_or_else(|_| DEFAULT_SERVER_LOG.into()))
        .args(["server", component])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start aerie");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains(ready))
        .expect("server ready line");
    // Keep draining the server's log so that it never blocks or fails on a
    // full pipe, into server.log beside the config (benchmarks read it).
    let mut kept = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("server.log"))
        .expect("server.log");
    std::thread::spawn(move || {
        use std::io::Write;
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(kept, "{line}");
        }
    });
    (child, line)
}

/// An HTTP client for talking to the server under load. Building the
/// workspace with the `aerie` binary's S3 support turns on reqwest's rustls
/// without a crypto provider (see execution-svc's `s3` feature), and reqwest
/// then needs a process default even for plain `http://`.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The bench super admin's access token.
pub async fn login(client: &reqwest::Client, http: &str) -> String {
    login_as(client, http, "bench", "bench-password").await
}

/// An access token of `username`.
pub async fn login_as(
    client: &reqwest::Client,
    http: &str,
    username: &str,
    password: &str,
) -> String {
    let login: serde_json::Value = client
        .post(format!("{http}/api/v1/auths/token"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token json");
    login["access_token"].as_str().expect("token").to_owned()
}

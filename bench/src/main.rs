//! `aerie-bench gateway-vs-grpc`: the same authenticated read through the
//! REST gateway and straight over gRPC, side by side, against a real
//! `aerie server standalone` process started next to this binary.
//!
//! Build and run: `cargo build --release -p aerie -p aerie-bench &&
//! target/release/aerie-bench` (options: `--help`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aerie_proto::tenant::v1::GetTenantRequest;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use clap::Parser;
use tonic::transport::Channel;

/// Options of the run.
#[derive(Debug, Parser)]
#[command(about = "Authenticated GET through the gateway vs. straight over gRPC")]
struct Options {
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of warm-up before each phase.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// Kills the server when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &std::path::Path) -> (Server, String, String) {
    let exe = std::env::current_exe().expect("own path");
    let aerie = exe.with_file_name("aerie");
    assert!(
        aerie.exists(),
        "build the server first: cargo build --release -p aerie"
    );
    let config = dir.join("aerie.yml");
    std::fs::write(
        &config,
        format!(
            "aerie:\n  tenants:\n    enabled: true\n  security:\n    super-admin:\n      username: bench\n      password: bench-password\n  server:\n    http-port: 0\n    grpc-port: 0\n  data-dir: {}\n",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(aerie)
        .arg("-c")
        .arg(&config)
        .args(["-l", "warn,aerie=info", "server", "standalone"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start aerie");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("aerie standalone ready"))
        .expect("server ready line");
    // Keep draining the server's log so that it never blocks or fails on a full pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
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

/// Latencies and count of one phase.
struct Phase {
    name: &'static str,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn report(&self) {
        println!(
            "{:<28} {:>10.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
            self.name,
            self.throughput(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.requests
        );
    }
}

/// Runs `call` from `concurrency` tasks for `duration`, collecting latencies.
async fn drive<F, Fut>(name: &'static str, concurrency: usize, duration: Duration, call: F) -> Phase
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                assert!(call().await, "{name}: a request failed");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    Phase {
        name,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, http, grpc) = start_server(&dir);

    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{http}/api/v1/auths/token"))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let created = client
        .post(format!("{http}/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"id": "bench", "name": "Bench"}))
        .send()
        .await
        .expect("create tenant");
    assert!(
        created.status().is_success(),
        "create tenant: {}",
        created.status()
    );

    let duration = Duration::from_secs(options.seconds);
    let warmup = Duration::from_secs(options.warmup);
    let url = format!("{http}/api/v1/tenants/bench");
    let rest = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        move || {
            let request = client.get(&url).bearer_auth(&token).send();
            async move {
                request
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        }
    };
    let channel = Channel::from_shared(grpc.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect gRPC");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("ascii");
    let direct = {
        let (channel, bearer) = (channel.clone(), bearer.clone());
        move || {
            let mut client = TenantServiceClient::new(channel.clone());
            let mut request = tonic::Request::new(GetTenantRequest { id: "bench".into() });
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            async move { client.get_tenant(request).await.is_ok() }
        }
    };

    println!(
        "aerie-bench: authenticated GET of one tenant, {} in flight, {} s per phase (after {} s warm-up)",
        options.concurrency, options.seconds, options.warmup
    );
    drive("warm-up", options.concurrency, warmup, direct.clone()).await;
    let grpc_phase = drive(
        "direct gRPC GetTenant",
        options.concurrency,
        duration,
        direct,
    )
    .await;
    drive("warm-up", options.concurrency, warmup, rest.clone()).await;
    let rest_phase = drive(
        "gateway GET /tenants/{id}",
        options.concurrency,
        duration,
        rest,
    )
    .await;
    grpc_phase.report();
    rest_phase.report();
    println!(
        "gateway keeps {:.0}% of the direct path's throughput (target: at least 60%)",
        100.0 * rest_phase.throughput() / grpc_phase.throughput()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

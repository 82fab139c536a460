//! `aerie-bench gateway-vs-grpc`: the same authenticated read through the
//! REST gateway and straight over gRPC, side by side.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aerie_proto::tenant::v1::GetTenantRequest;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tonic::transport::Channel;

use crate::cpu;
use crate::measure::{Phase, drive};
use crate::server::start_server;

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Seconds each path is measured for, per value of `--concurrency`.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Each phase is cut into this many slices, gRPC and REST taking turns,
    /// so that a slow spell of a shared machine falls on both paths.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Requests in flight, one pair of phases per value.
    #[arg(long, value_delimiter = ',', default_value = "8,32,64")]
    concurrency: Vec<usize>,
    /// Seconds of warm-up before each phase.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// One measured phase with the CPU the server and this load generator
/// spent in it.
struct Measured {
    phase: Phase,
    server_cpu: Duration,
    bench_cpu: Duration,
}

impl Measured {
    fn micros_per_request(cpu: Duration, phase: &Phase) -> f64 {
        cpu.as_secs_f64() * 1e6 / phase.requests.max(1) as f64
    }

    fn report(&self) {
        self.phase.report();
        println!(
            "{:<28} server {:>6.1} µs CPU/request, load generator {:>6.1} µs CPU/request",
            "",
            Self::micros_per_request(self.server_cpu, &self.phase),
            Self::micros_per_request(self.bench_cpu, &self.phase),
        );
    }

    fn empty(name: &'static str) -> Measured {
        Measured {
            phase: Phase {
                name,
                requests: 0,
                elapsed: Duration::ZERO,
                latencies: Vec::new(),
            },
            server_cpu: Duration::ZERO,
            bench_cpu: Duration::ZERO,
        }
    }

    /// Runs `call` for `duration` and adds the slice to this phase, with the
    /// CPU the server and this process spent in it.
    async fn add_slice<F, Fut>(
        &mut self,
        server: u32,
        concurrency: usize,
        duration: Duration,
        call: F,
    ) where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let bench = std::process::id();
        let (server_before, bench_before) = (cpu::of_process(server), cpu::of_process(bench));
        let slice = drive(self.phase.name, concurrency, duration, call).await;
        self.server_cpu += cpu::of_process(server).saturating_sub(server_before);
        self.bench_cpu += cpu::of_process(bench).saturating_sub(bench_before);
        self.phase.requests += slice.requests;
        self.phase.elapsed += slice.elapsed;
        self.phase.latencies.extend(slice.latencies);
    }
}

/// Runs the comparison.
pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (server, http, grpc) = start_server(&dir);

    let client = crate::server::http_client();
    let token = crate::server::login(&client, &http).await;
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

    let connections = Arc::new(KeptAlive::new(&http, &token, "/api/v1/tenants/bench"));
    let rest = move || {
        let connections = connections.clone();
        async move { connections.get().await }
    };
    let channel = Channel::from_shared(grpc.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect gRPC");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("ascii");
    let direct = move || {
        let mut client = TenantServiceClient::new(channel.clone());
        let mut request = tonic::Request::new(GetTenantRequest { id: "bench".into() });
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        async move { client.get_tenant(request).await.is_ok() }
    };

    println!(
        "aerie-bench: authenticated GET of one tenant at {:?} in flight, {} s per path in {} alternating slices (after {} s warm-up)",
        options.concurrency,
        options.seconds,
        options.rounds.max(1),
        options.warmup
    );
    let mut ratios = Vec::new();
    let warmup = Duration::from_secs(options.warmup);
    let rounds = options.rounds.max(1);
    let slice = Duration::from_secs(options.seconds) / rounds;
    for &concurrency in &options.concurrency {
        drive("warm-up", concurrency, warmup, direct.clone()).await;
        drive("warm-up", concurrency, warmup, rest.clone()).await;
        let mut grpc_phase = Measured::empty("direct gRPC GetTenant");
        let mut rest_phase = Measured::empty("gateway GET /tenants/{id}");
        for _ in 0..rounds {
            grpc_phase
                .add_slice(server.pid(), concurrency, slice, direct.clone())
                .await;
            rest_phase
                .add_slice(server.pid(), concurrency, slice, rest.clone())
                .await;
        }
        println!("-- {concurrency} in flight");
        grpc_phase.report();
        rest_phase.report();
        let ratio = rest_phase.phase.throughput() / grpc_phase.phase.throughput();
        println!(
            "gateway keeps {:.0}% of the direct path's throughput (target: at least 75%)",
            100.0 * ratio
        );
        ratios.push((concurrency, ratio));
    }
    let summary: Vec<String> = ratios
        .iter()
        .map(|(c, r)| format!("{c}: {:.0}%", 100.0 * r))
        .collect();
    println!(
        "gateway / direct by requests in flight: {}",
        summary.join(", ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTP/1.1 connections to the gateway, kept alive and reused, one per
/// request in flight at most, as `wrk` or `oha` drive a server: the load
/// generator shares the server's cores, so its own cost per request is
/// kept small (no pool, URL parsing or header building per request) and
/// reported beside the server's.
struct KeptAlive {
    address: String,
    uri: http::Uri,
    headers: http::HeaderMap,
    idle: Mutex<Vec<SendRequest<Empty<Bytes>>>>,
}

impl KeptAlive {
    fn new(base: &str, token: &str, path: &str) -> KeptAlive {
        let address = base.trim_start_matches("http://").to_owned();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, address.parse().expect("host"));
        let bearer = format!("Bearer {token}").parse().expect("token");
        headers.insert(http::header::AUTHORIZATION, bearer);
        KeptAlive {
            address,
            uri: path.parse().expect("path"),
            headers,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends the request on an idle connection (a new one when none is
    /// idle) and reads the whole answer; true when it was a success.
    async fn get(&self) -> bool {
        let idle = self.idle.lock().expect("idle connections").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => match self.connect().await {
                Some(connection) => connection,
                None => return false,
            },
        };
        let mut request = http::Request::new(Empty::new());
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let Ok(response) = connection.send_request(request).await else {
            return false;
        };
        let success = response.status().is_success();
        if response.into_body().collect().await.is_err() {
            return false;
        }
        self.idle.lock().expect("idle connections").push(connection);
        success
    }

    async fn connect(&self) -> Option<SendRequest<Empty<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.address).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        Some(sender)
    }
}

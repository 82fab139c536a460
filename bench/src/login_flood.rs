//! `aerie-bench login-flood`: N concurrent logins with random usernames
//! against a lone `aerie server auth` process, the way a gateway forwards
//! them (the client address in `x-forwarded-for`, proven by the internal
//! service credential). Reports the auth process's peak resident memory,
//! how the flood was answered, and how long a correct login made during the
//! flood took.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aerie_proto::auth::v1::IssueTokenRequest;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use tonic::transport::Channel;

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Logins sent at once.
    #[arg(long, default_value_t = 500)]
    logins: usize,
    /// Distinct client addresses the flood comes from (1: one attacker;
    /// as many as logins: a botnet).
    #[arg(long, default_value_t = 1)]
    sources: usize,
}

const SERVICE_TOKEN: &str = "bench-service-token-0123456789abcdef0123456789";

/// Kills the auth process when the bench ends.
struct Auth(std::process::Child);

impl Drop for Auth {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_auth(dir: &std::path::Path) -> (Auth, String) {
    let config = dir.join("aerie.yml");
    std::fs::write(
        &config,
        format!(
            "aerie:\n  tenants:\n    enabled: true\n  security:\n    super-admin:\n      username: bench\n      password: bench-password\n    service-token: {SERVICE_TOKEN}\n  server:\n    grpc-port: 0\n  data-dir: {}\n",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    let (child, ready) = crate::server::spawn_aerie(&config, "auth", "auth service ready");
    let addr = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("grpc="))
        .expect("address")
        .to_owned();
    (Auth(child), format!("http://{addr}"))
}

/// Resident memory of `pid` in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn login(username: &str, password: &str, source: &str) -> tonic::Request<IssueTokenRequest> {
    let mut request = tonic::Request::new(IssueTokenRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    });
    let metadata = request.metadata_mut();
    metadata.insert("x-forwarded-for", source.parse().expect("ascii"));
    metadata.insert(
        "x-aerie-service-token",
        SERVICE_TOKEN.parse().expect("ascii"),
    );
    request
}

/// Runs the flood.
pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-login-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (auth, endpoint) = start_auth(&dir);
    let pid = auth.0.id();
    let channel = loop {
        if let Ok(channel) = Channel::from_shared(endpoint.clone())
            .expect("uri")
            .connect()
            .await
        {
            let ok = AuthServiceClient::new(channel.clone())
                .issue_token(login("bench", "bench-password", "198.51.100.1"))
                .await
                .is_ok();
            if ok {
                break channel;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let idle = rss_mib(pid);

    let peak = Arc::new(AtomicU64::new(idle.to_bits()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let now = rss_mib(pid);
                if now > f64::from_bits(peak.load(Ordering::Relaxed)) {
                    peak.store(now.to_bits(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let started = Instant::now();
    let flood: Vec<_> = (0..options.logins)
        .map(|i| {
            let mut client = AuthServiceClient::new(channel.clone());
            let source = format!(
                "203.0.{}.{}",
                (i % options.sources.max(1)) / 250,
                (i % options.sources.max(1)) % 250 + 1
            );
            tokio::spawn(async move {
                let request = login(
                    &format!("random-{}", uuid::Uuid::new_v4().simple()),
                    "guess-guess",
                    &source,
                );
                match client.issue_token(request).await {
                    Ok(_) => "ok",
                    Err(status) => match status.code() {
                        tonic::Code::Unauthenticated => "401",
                        tonic::Code::ResourceExhausted => "429",
                        _ => "other",
                    },
                }
            })
        })
        .collect();
    // The real user, a moment into the flood, retrying as Retry-After says.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let real_started = Instant::now();
    let mut real_attempts = 0;
    let real = loop {
        real_attempts += 1;
        let mut client = AuthServiceClient::new(channel.clone());
        match client
            .issue_token(login("bench", "bench-password", "198.51.100.9"))
            .await
        {
            Ok(_) => break real_started.elapsed(),
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted && real_attempts < 20 =>
            {
                let wait = status
                    .metadata()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            Err(status) => panic!("the real login failed: {status:?}"),
        }
    };
    let mut answers = std::collections::BTreeMap::<&str, usize>::new();
    for task in flood {
        *answers.entry(task.await.expect("login task")).or_default() += 1;
    }
    let flood_time = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let peak = f64::from_bits(peak.load(Ordering::Relaxed));
    println!(
        "login-flood: {} logins from {} source(s): answered in {:.2} s: {answers:?}",
        options.logins,
        options.sources,
        flood_time.as_secs_f64()
    );
    println!("auth process resident memory: idle {idle:.1} MiB, peak {peak:.1} MiB");
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        let parts: Vec<&str> = status
            .lines()
            .filter(|l| {
                l.starts_with("RssAnon") || l.starts_with("RssFile") || l.starts_with("Threads")
            })
            .collect();
        println!(
            "after the flood: {}",
            parts
                .join(", ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!(
        "correct login during the flood: {:.0} ms ({real_attempts} attempt(s))",
        real.as_secs_f64() * 1000.0
    );
    drop(auth);
    let _ = std::fs::remove_dir_all(&dir);
}

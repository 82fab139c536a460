//! What one tenant's heavy work costs another tenant.
//!
//! `aerie-bench foreach`: tenant `big` runs one ForEach over N items (a
//! Return inside) while tenant `small` starts a Log execution every 100 ms
//! (`?wait=true`, timed by the client) and `/health` is polled every 50 ms.
//! Reports how long the ForEach took (or the quota's refusal) beside
//! small's and /health's latencies.
//!
//! `aerie-bench noisy-neighbour`: tenant `quiet` runs 1,000 executions a
//! minute of a two-task flow (`?wait=true`, Log then Return; the client's
//! round trip and the CREATED to SUCCESS history), first alone, then while
//! tenant `noisy` creates long Sleeps, big ForEach loops and log floods as
//! fast as its own quotas let it. Reports quiet's p50/p95/p99 in both
//! phases, in one run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::server::{Server, login, start_server_quotas};

/// Options of `aerie-bench foreach`.
#[derive(Debug, clap::Args)]
pub struct ForeachOptions {
    /// ForEach sizes to run, one after the other.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    items: Vec<usize>,
    /// PostgreSQL to run on (fresh schemas); unset: SQLite.
    #[arg(long, env = "AERIE_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

/// Options of `aerie-bench noisy-neighbour`.
#[derive(Debug, clap::Args)]
pub struct NoisyOptions {
    /// Seconds of each phase (quiet alone, then beside noisy).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// quiet's executions per minute.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// PostgreSQL to run on (fresh schemas); unset: SQLite.
    #[arg(long, env = "AERIE_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// noisy's kinds of work (sleeper, looper, flooder), to see which of
    /// them costs quiet what.
    #[arg(long, value_delimiter = ',', default_value = "sleeper,looper,flooder")]
    noisy: Vec<String>,
}

/// A started server with the bench super admin's token.
struct Bench {
    _server: Server,
    dir: std::path::PathBuf,
    client: reqwest::Client,
    http: String,
    token: String,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bench {
    /// A server with the instance's default quotas (the other benchmarks
    /// lift them) and `tenants`, each administered by the bench user.
    async fn start(tenants: &[&str], database_url: Option<&str>) -> Bench {
        let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bench dir");
        let extra = match database_url {
            Some(url) => crate::executions::database_config(url).await,
            None => String::new(),
        };
        println!(
            "on {}",
            if database_url.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        );
        let (server, http, _) = start_server_quotas(&dir, "", &extra);
        let client = crate::server::http_client();
        let token = login(&client, &http).await;
        let bench = Bench {
            _server: server,
            dir,
            client,
            http,
            token,
        };
        for tenant in tenants {
            let (status, body) = bench
                .send(
                    reqwest::Method::POST,
                    "/api/v1/tenants",
                    Some(
                        serde_json::json!({"id": tenant, "name": tenant, "adminUsername": "bench"}),
                    ),
                )
                .await;
            assert_eq!(status, 201, "tenant {tenant}: {body}");
        }
        bench
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.http))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn flow(&self, tenant: &str, source: &str) {
        let response = self
            .client
            .post(format!("{}/api/v1/{tenant}/flows", self.http))
            .bearer_auth(&self.token)
            .header("content-type", "application/x-yaml")
            .body(source.to_owned())
            .send()
            .await
            .expect("flow");
        assert!(
            response.status().is_success(),
            "flow in {tenant}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Polls `/api/v1/{tenant}/executions/{id}` until it has ended.
    async fn ended(&self, tenant: &str, id: &str) -> serde_json::Value {
        loop {
            let (_, body) = self
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v1/{tenant}/executions/{id}"),
                    None,
                )
                .await;
            let state = body["state"]["current"].as_str().unwrap_or_default();
            if matches!(state, "SUCCESS" | "WARNING" | "FAILED" | "KILLED") {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `p` quantile of sorted `values`, as milliseconds.
fn quantile(sorted: &[Duration], p: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    format!("{:.1} ms", sorted[index].as_secs_f64() * 1000.0)
}

/// Latencies gathered by a background task until it is told to stop.
struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Duration>>,
}

impl Sampler {
    /// Runs `call` every `every` (each call in its own task, so a slow
    /// answer does not delay the next call).
    fn every<F, Fut>(every: Duration, call: F) -> Sampler
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let call = Arc::new(call);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            let mut calls = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                ticks.tick().await;
                let call = call.clone();
                calls.push(tokio::spawn(async move {
                    let started = Instant::now();
                    call().await.then(|| started.elapsed())
                }));
            }
            let mut latencies = Vec::with_capacity(calls.len());
            for call in calls {
                if let Ok(Some(latency)) = call.await {
                    latencies.push(latency);
                }
            }
            latencies.sort();
            latencies
        });
        Sampler { stop, task }
    }

    async fn finish(self) -> Vec<Duration> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("sampler")
    }
}

const HELLO: &str = "id: hello\nnamespace: bench.small\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"hi from {{ execution.id }}\"\n";

pub async fn foreach(options: ForeachOptions) {
    let bench = Bench::start(&["big", "small"], options.database_url.as_deref()).await;
    bench.flow("small", HELLO).await;
    println!(
        "foreach benchmark: one ForEach (Return inside) in tenant big; tenant small starts a Log execution every 100 ms (?wait=true); /health every 50 ms"
    );
    println!(
        "| items | big's ForEach | ended in | small's executions | small p50 | small p95 | small max | /health p95 | /health max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for items in options.items {
        let flow = format!(
            "id: each{items}\nnamespace: bench.big\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{{{ range({items}) | list | tojson }}}}\"\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
        );
        bench.flow("big", &flow).await;
        let small = {
            let (client, url, token) = (
                bench.client.clone(),
                format!(
                    "{}/api/v1/small/executions/bench.small/hello?wait=true",
                    bench.http
                ),
                bench.token.clone(),
            );
            Sampler::every(Duration::from_millis(100), move || {
                let request = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({}));
                async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
            })
        };
        let health = {
            let (client, url) = (bench.client.clone(), format!("{}/health", bench.http));
            Sampler::every(Duration::from_millis(50), move || {
                let request = client.get(&url);
                async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
            })
        };
        // A moment of small alone first, so both samplers are warm.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = Instant::now();
        let (status, body) = bench
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/big/executions/bench.big/each{items}"),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let ended = bench.ended("big", &id).await;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (small, health) = (small.finish().await, health.finish().await);
        let state = ended["state"]["current"].as_str().unwrap_or_default();
        let outcome = if state == "SUCCESS" {
            let runs = ended["taskRunList"].as_array().map_or(0, Vec::len);
            format!("SUCCESS, {runs} task runs")
        } else {
            let (_, logs) = bench
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v1/big/logs/{id}"),
                    None,
                )
                .await;
            let message = logs
                .as_array()
                .and_then(|lines| lines.iter().find(|l| l["level"] == "ERROR"))
                .and_then(|l| l["message"].as_str())
                .unwrap_or_default()
                .to_owned();
            format!("{state}: {message}")
        };
        println!(
            "| {items} | {outcome} | {:.2} s | {} | {} | {} | {} | {} | {} |",
            took.as_secs_f64(),
            small.len(),
            quantile(&small, 0.50),
            quantile(&small, 0.95),
            quantile(&small, 1.0),
            quantile(&health, 0.95),
            quantile(&health, 1.0),
        );
    }
}

const QUIET: &str = "id: pair\nnamespace: bench.quiet\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"hi from {{ execution.id }}\"\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ execution.id }}\"\n";

/// noisy's flows: a long Sleep, a big ForEach and a log flood.
fn noisy_flows() -> Vec<(&'static str, String)> {
    let lines: Vec<String> = (0..500)
        .map(|i| format!("\"line {i} of a flood from {{{{ execution.id }}}}\""))
        .collect();
    vec![
        (
            "sleeper",
            "id: sleeper\nnamespace: bench.noisy\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT5S\n".to_owned(),
        ),
        (
            "looper",
            "id: looper\nnamespace: bench.noisy\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ range(5000) | list | tojson }}\"\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n".to_owned(),
        ),
        (
            "flooder",
            format!(
                "id: flooder\nnamespace: bench.noisy\ntasks:\n  - id: flood\n    type: io.kestra.plugin.core.log.Log\n    message: [{}]\n",
                lines.join(", ")
            ),
        ),
    ]
}

pub async fn noisy(options: NoisyOptions) {
    let bench = Bench::start(&["noisy", "quiet"], options.database_url.as_deref()).await;
    bench.flow("quiet", QUIET).await;
    for (_, source) in noisy_flows() {
        bench.flow("noisy", &source).await;
    }
    // noisy's own quotas: what an operator gives a tenant it does not trust.
    let (status, body) = bench
        .send(
            reqwest::Method::PUT,
            "/api/v1/tenants/noisy/quotas",
            Some(serde_json::json!({"runningExecutions": 16, "queuedExecutions": 100, "executionsPerMinute": 600})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    println!(
        "noisy-neighbour benchmark: quiet runs {} executions/min (POST ?wait=true -> Log -> Return) for {} s alone, then {} s beside noisy (Sleep PT5S, ForEach over 5,000, 500-line Log floods; noisy's quotas: 16 running, 100 queued, 600/min)",
        options.rate, options.seconds, options.seconds
    );
    println!(
        "| phase | quiet ended SUCCESS | round trip p50 / p95 / p99 | CREATED -> SUCCESS p50 / p95 / p99 | noisy created | noisy refused (429) |"
    );
    println!("|---|---|---|---|---|---|");
    let alone = quiet_phase(&bench, &options).await;
    report("quiet alone", &alone, None);
    let stop = Arc::new(AtomicBool::new(false));
    let (created, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut drivers = Vec::new();
    for (flow, _) in noisy_flows() {
        if !options.noisy.iter().any(|kind| kind == flow) {
            continue;
        }
        // Each kind of work at once from 4 callers, as fast as answered.
        for _ in 0..4 {
            let (client, token, stop, created, refused) = (
                bench.client.clone(),
                bench.token.clone(),
                stop.clone(),
                created.clone(),
                refused.clone(),
            );
            let url = format!("{}/api/v1/noisy/executions/bench.noisy/{flow}", bench.http);
            drivers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let answer = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&serde_json::json!({}))
                        .send()
                        .await;
                    match answer.map(|r| r.status().as_u16()) {
                        Ok(200) => {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(429) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            }));
        }
    }
    // Let noisy fill its quotas before quiet is measured again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let beside = quiet_phase(&bench, &options).await;
    stop.store(true, Ordering::Relaxed);
    for driver in drivers {
        let _ = driver.await;
    }
    report(
        "quiet beside noisy",
        &beside,
        Some((
            created.load(Ordering::Relaxed),
            refused.load(Ordering::Relaxed),
        )),
    );
    let p95 = |l: &[Duration]| {
        let index = ((l.len() as f64 * 0.95).ceil() as usize).clamp(1, l.len().max(1)) - 1;
        l.get(index).map_or(0.0, Duration::as_secs_f64)
    };
    for (what, alone, beside) in [
        ("round trip", &alone.round_trip, &beside.round_trip),
        ("CREATED -> SUCCESS", &alone.server, &beside.server),
    ] {
        if p95(alone) > 0.0 {
            println!(
                "quiet's p95 beside noisy is {:.2}x its p95 alone ({what}; goal: at most 1.5x)",
                p95(beside) / p95(alone)
            );
        }
    }
}

fn report(phase: &str, latencies: &QuietLatencies, noisy: Option<(u64, u64)>) {
    let (created, refused) = noisy.map_or(("-".into(), "-".into()), |(c, r)| {
        (c.to_string(), r.to_string())
    });
    let (trip, server) = (&latencies.round_trip, &latencies.server);
    println!(
        "| {phase} | {} | {} / {} / {} | {} / {} / {} | {created} | {refused} |",
        trip.len(),
        quantile(trip, 0.50),
        quantile(trip, 0.95),
        quantile(trip, 0.99),
        quantile(server, 0.50),
        quantile(server, 0.95),
        quantile(server, 0.99),
    );
}

/// quiet's latencies in one phase, each sorted.
struct QuietLatencies {
    /// Client round trip of `POST ...?wait=true`, from sending to the
    /// answer of the ended execution (microsecond clock).
    round_trip: Vec<Duration>,
    /// The execution's own CREATED -> SUCCESS histories (whole
    /// milliseconds: the dates are printed as Kestra prints them).
    server: Vec<Duration>,
}

/// Starts quiet's executions at the rate for the phase, each with
/// `?wait=true`; answers the latencies of those that ended SUCCESS.
async fn quiet_phase(bench: &Bench, options: &NoisyOptions) -> QuietLatencies {
    let url = format!(
        "{}/api/v1/quiet/executions/bench.quiet/pair?wait=true",
        bench.http
    );
    let total = options.rate * options.seconds / 60;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(60.0 / options.rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::with_capacity(total as usize);
    for _ in 0..total {
        ticks.tick().await;
        let request = bench
            .client
            .post(&url)
            .bearer_auth(&bench.token)
            .json(&serde_json::json!({}));
        sent.push(tokio::spawn(async move {
            let started = Instant::now();
            let response = request.send().await.ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            let round_trip = started.elapsed();
            let at = |state| crate::measure::history_date(&body, state);
            let server = (at("SUCCESS")? - at("CREATED")?).to_std().ok()?;
            Some((round_trip, server))
        }));
    }
    let mut latencies = QuietLatencies {
        round_trip: Vec::with_capacity(sent.len()),
        server: Vec::with_capacity(sent.len()),
    };
    for handle in sent {
        if let Ok(Some((round_trip, server))) = handle.await {
            latencies.round_trip.push(round_trip);
            latencies.server.push(server);
        }
    }
    latencies.round_trip.sort();
    latencies.server.sort();
    latencies
}

//! `aerie-bench flows`: loads T tenants x F flows, then measures GetFlow and
//! the listing of one namespace through the gateway, first while only 10
//! tenants exist and again with all T; the latencies should not grow with
//! the number of tenants.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::measure::drive;
use crate::server::{login, start_server};

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Tenants loaded in the end.
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Flows per tenant.
    #[arg(long, default_value_t = 100)]
    flows: usize,
    /// Namespaces the flows of a tenant are spread over.
    #[arg(long, default_value_t = 10)]
    namespaces: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent requests in flight while measuring.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Concurrent requests while loading.
    #[arg(long, default_value_t = 16)]
    loaders: usize,
}

/// A cheap per-task random sequence (xorshift); quality is irrelevant here.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn tenant_id(i: usize) -> String {
    format!("t{i:04}")
}

fn flow_source(namespace: usize, flow: usize) -> String {
    format!(
        "id: flow{flow:03}\nnamespace: bench.ns{namespace:02}\nlabels:\n  team: t{namespace}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello {{{{ inputs.user }}}} from flow {flow}\"\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ execution.id }}}}\"\ntriggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n"
    )
}

/// Creates tenants `from..to`, each with its flows, `loaders` requests at a time.
async fn load(http: &str, token: &str, options: &Options, from: usize, to: usize) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for t in from..to {
        let created = client
            .post(format!("{http}/api/v1/tenants"))
            .bearer_auth(token)
            .json(&serde_json::json!({"id": tenant_id(t), "name": tenant_id(t), "adminUsername": "bench"}))
            .send()
            .await
            .expect("create tenant");
        assert!(
            created.status().is_success(),
            "create tenant: {}",
            created.status()
        );
        jobs.extend((0..options.flows).map(|f| (t, f)));
    }
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..options.loaders {
        let (jobs, next, client) = (jobs.clone(), next.clone(), client.clone());
        let (http, token, namespaces) = (http.to_owned(), token.to_owned(), options.namespaces);
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&(t, f)) = jobs.get(index) else {
                    break;
                };
                let response = client
                    .post(format!("{http}/api/v1/{}/flows", tenant_id(t)))
                    .bearer_auth(&token)
                    .header("content-type", "application/x-yaml")
                    .body(flow_source(f % namespaces, f))
                    .send()
                    .await
                    .expect("create flow");
                assert!(
                    response.status().is_success(),
                    "create flow: {}",
                    response.status()
                );
            }
        }));
    }
    for worker in workers {
        worker.await.expect("loader");
    }
    let count = jobs.len();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "loaded tenants {from}..{to}: {count} flows in {elapsed:.1} s ({:.0} flows/s)",
        count as f64 / elapsed
    );
    // Measure a quiet system: the audit relay delivers entries oldest
    // first, so the last tenant's complete log means an empty outbox.
    let drained = Instant::now();
    let url = format!(
        "{http}/api/v1/{}/auditlogs/search?resourceType=FLOW&size=1",
        tenant_id(to - 1)
    );
    loop {
        let page: serde_json::Value = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("audit search")
            .json()
            .await
            .expect("audit json");
        if page["total"].as_u64() >= Some(options.flows as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "audit outbox drained {:.1} s after loading",
        drained.elapsed().as_secs_f64()
    );
}

/// Measures both reads over the first `tenants` tenants.
async fn measure(http: &str, token: &str, options: &Options, tenants: usize) {
    let client = reqwest::Client::new();
    let duration = Duration::from_secs(options.seconds);
    let seed = Arc::new(AtomicU64::new(0x9e37_79b9_7f4a_7c15));
    let (flows, namespaces) = (options.flows, options.namespaces);
    let get = {
        let (client, http, token, seed) = (
            client.clone(),
            http.to_owned(),
            token.to_owned(),
            seed.clone(),
        );
        move || {
            let mut random = Random(seed.fetch_add(0x9e37_79b9, Ordering::Relaxed) | 1);
            let (t, f) = (random.below(tenants), random.below(flows));
            let url = format!(
                "{http}/api/v1/{}/flows/bench.ns{:02}/flow{f:03}",
                tenant_id(t),
                f % namespaces
            );
            let request = client.get(url).bearer_auth(&token).send();
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        }
    };
    let list = {
        let (client, http, token, seed) = (
            client.clone(),
            http.to_owned(),
            token.to_owned(),
            seed.clone(),
        );
        move || {
            let mut random = Random(seed.fetch_add(0x7f4a_7c15, Ordering::Relaxed) | 1);
            let (t, n) = (random.below(tenants), random.below(namespaces));
            let url = format!("{http}/api/v1/{}/flows/bench.ns{n:02}", tenant_id(t));
            let request = client.get(url).bearer_auth(&token).send();
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        }
    };
    drive(
        "warm-up",
        options.concurrency,
        Duration::from_secs(2),
        get.clone(),
    )
    .await;
    let get_phase = drive("GET /flows/{ns}/{id}", options.concurrency, duration, get).await;
    drive(
        "warm-up",
        options.concurrency,
        Duration::from_secs(2),
        list.clone(),
    )
    .await;
    let list_phase = drive("GET /flows/{ns}", options.concurrency, duration, list).await;
    println!("-- with {tenants} tenants x {flows} flows in play:");
    get_phase.report();
    list_phase.report();
}

/// Runs the load and both measurements.
pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, http, _grpc) = start_server(&dir);
    let client = reqwest::Client::new();
    let token = login(&client, &http).await;
    let small = options.tenants.min(10);
    println!(
        "aerie-bench flows: {} tenants x {} flows over {} namespaces, {} in flight, {} s per phase",
        options.tenants, options.flows, options.namespaces, options.concurrency, options.seconds
    );
    load(&http, &token, &options, 0, small).await;
    measure(&http, &token, &options, small).await;
    if options.tenants > small {
        load(&http, &token, &options, small, options.tenants).await;
        // Tokens last 15 minutes; loading may take longer.
        let token = login(&client, &http).await;
        measure(&http, &token, &options, options.tenants).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! `aerie-bench flows`: loads tenants x F flows in steps (10, 1,000, 10,000
//! tenants by default) and after each step measures GetFlow and the listing
//! of one namespace through the gateway, spread over every tenant loaded;
//! neither throughput nor latency should depend on the number of tenants.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::measure::{Phase, drive};
use crate::server::{login, start_server};

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Tenants in play at each step, ascending.
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
    tenants: Vec<usize>,
    /// Flows per tenant.
    #[arg(long, default_value_t = 10)]
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

/// Creates tenants `from..to`, then their flows, `loaders` requests at a
/// time; answers the flows loaded per second.
async fn load(http: &str, token: &str, options: &Options, from: usize, to: usize) -> f64 {
    let client = crate::server::http_client();
    let tenants_started = Instant::now();
    {
        use futures::StreamExt;
        futures::stream::iter(from..to)
            .map(|t| {
                let created = client
                    .post(format!("{http}/api/v1/tenants"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"id": tenant_id(t), "name": tenant_id(t), "adminUsername": "bench"}))
                    .send();
                async move {
                    let created = created.await.expect("create tenant");
                    assert!(
                        created.status().is_success(),
                        "create tenant: {}",
                        created.status()
                    );
                }
            })
            .buffer_unordered(options.loaders)
            .collect::<Vec<()>>()
            .await;
    }
    println!(
        "created tenants {from}..{to} in {:.1} s",
        tenants_started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let jobs: Vec<(usize, usize)> = (from..to)
        .flat_map(|t| (0..options.flows).map(move |f| (t, f)))
        .collect();
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
    let rate = count as f64 / elapsed;
    println!("loaded tenants {from}..{to}: {count} flows in {elapsed:.1} s ({rate:.0} flows/s)");
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
    rate
}

/// One step's figures, for the summary.
struct Step {
    tenants: usize,
    loading: f64,
    get: Phase,
    list: Phase,
}

/// Measures both reads over the first `tenants` tenants.
async fn measure(http: &str, token: &str, options: &Options, tenants: usize) -> (Phase, Phase) {
    let client = crate::server::http_client();
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
    // Steady state: every tenant read once, as a long-running instance's
    // would have been, so that first reads (cache misses) are not measured.
    {
        use futures::StreamExt;
        futures::stream::iter(0..tenants)
            .map(|t| {
                let url = format!("{http}/api/v1/{}/flows/bench.ns00", tenant_id(t));
                let request = client.get(url).bearer_auth(token).send();
                async move {
                    let _ = request.await;
                }
            })
            .buffer_unordered(options.concurrency)
            .collect::<Vec<()>>()
            .await;
    }
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
    (get_phase, list_phase)
}

/// Loads and measures each step, then compares every step with the first.
pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, http, _grpc) = start_server(&dir);
    let client = crate::server::http_client();
    println!(
        "aerie-bench flows: {:?} tenants x {} flows over {} namespaces, {} in flight, {} s per phase",
        options.tenants, options.flows, options.namespaces, options.concurrency, options.seconds
    );
    let mut steps: Vec<Step> = Vec::new();
    let mut loaded = 0;
    for &tenants in &options.tenants {
        assert!(tenants > loaded, "--tenants must ascend");
        // Tokens last 15 minutes; loading may take longer.
        let token = login(&client, &http).await;
        let loading = load(&http, &token, &options, loaded, tenants).await;
        loaded = tenants;
        let token = login(&client, &http).await;
        let (get, list) = measure(&http, &token, &options, tenants).await;
        steps.push(Step {
            tenants,
            loading,
            get,
            list,
        });
    }
    println!("-- summary (ratios against {} tenants):", steps[0].tenants);
    let first = &steps[0];
    for step in &steps {
        for (name, phase, base) in [
            ("GetFlow", &step.get, &first.get),
            ("list namespace", &step.list, &first.list),
        ] {
            println!(
                "{:>6} tenants  {name:<15} {:>6.0} req/s ({:.2}x)  p50 {:>6.2} ms  p99 {:>6.2} ms ({:.2}x)",
                step.tenants,
                phase.throughput(),
                phase.throughput() / base.throughput(),
                phase.percentile(0.50).as_secs_f64() * 1e3,
                phase.percentile(0.99).as_secs_f64() * 1e3,
                phase.percentile(0.99).as_secs_f64() / base.percentile(0.99).as_secs_f64(),
            );
        }
        println!(
            "{:>6} tenants  loading         {:>6.0} flows/s",
            step.tenants, step.loading
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

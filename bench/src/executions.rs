//! `aerie-bench executions`: the shape of Kestra's published benchmark. A
//! flow with two tasks (Log, then Return) is started by its Webhook trigger
//! at fixed rates for a fixed time each; throughput and the end-to-end
//! latency from webhook accepted (CREATED) to SUCCESS are read from every
//! execution's own state history.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};

use crate::server::{login, start_server_with};

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Rates to drive, in executions per minute.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,20000")]
    rates: Vec<u64>,
    /// Seconds each rate is driven for.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// PostgreSQL to run on (each service gets its own fresh schema);
    /// unset: SQLite under a temporary data-dir.
    #[arg(long, env = "AERIE_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Executions run (at 10,000/min, not reported) before the first rate,
    /// after which PostgreSQL's statistics are refreshed: the rates then
    /// measure a running instance, not fresh tables whose first query
    /// plans were made while they were empty.
    #[arg(long, default_value_t = 2000)]
    warm_up: u64,
}

const FLOW: &str = "id: bench\nnamespace: bench.webhook\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello from {{ execution.id }}\"\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.body.n }}\"\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: bench-webhook-key\n";

/// Per-service database settings: fresh schemas on PostgreSQL.
pub(crate) async fn database_config(url: &str) -> String {
    let admin = Database::connect(url).await.expect("connect to PostgreSQL");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let _ = BENCH_RUN.set(run[..8].to_owned());
    let separator = if url.contains('?') { '&' } else { '?' };
    let mut yaml = String::from("  database:\n");
    for service in ["tenant", "auth", "flow", "execution"] {
        let schema = format!("bench_{service}_{}", &run[..8]);
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .expect("create schema");
        yaml.push_str(&format!(
            "    {service}:\n      url: \"{url}{separator}options=-c%20search_path%3D{schema}\"\n"
        ));
    }
    yaml
}

pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let extra = match &options.database_url {
        Some(url) => database_config(url).await,
        None => String::new(),
    };
    let backend = if options.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let (server, http, _) = start_server_with(&dir, &extra);
    let warm_up = options.warm_up;
    let client = crate::server::http_client();
    let token = login(&client, &http).await;
    let created = client
        .post(format!("{http}/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"id": "bench", "name": "Bench", "adminUsername": "bench"}))
        .send()
        .await
        .expect("tenant");
    assert!(
        created.status().is_success(),
        "tenant: {}",
        created.status()
    );
    let flow = client
        .post(format!("{http}/api/v1/bench/flows"))
        .bearer_auth(&token)
        .header("content-type", "application/x-yaml")
        .body(FLOW)
        .send()
        .await
        .expect("flow");
    assert!(flow.status().is_success(), "flow: {}", flow.status());
    println!(
        "executions benchmark on {backend}: webhook -> Log -> Return, {} s per rate",
        options.seconds
    );
    if warm_up > 0 {
        drive(&client, &http, 10_000, warm_up).await;
        let drained_by = Instant::now() + Duration::from_secs(120);
        while !drained(&client, &http, &token).await && Instant::now() < drained_by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(url) = &options.database_url {
            analyze(url).await;
        }
    }
    println!(
        "| rate (per min) | accepted | ended SUCCESS | throughput (per min) | p50 | p95 | p99 | server CPU-s per 1,000 | PostgreSQL CPU-s per 1,000 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in &options.rates {
        drive_rate(&client, &http, &token, *rate, options.seconds, server.pid()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends webhooks at `per_minute` for `seconds`, waits for the executions
/// to end, and prints one table row.
async fn drive_rate(
    client: &reqwest::Client,
    http: &str,
    token: &str,
    per_minute: u64,
    seconds: u64,
    server_pid: u32,
) {
    let total = per_minute * seconds / 60;
    let server_cpu = crate::cpu::of_process(server_pid);
    let postgres_cpu = crate::cpu::of_postgres();
    let started = Instant::now();
    let ids = drive(client, http, per_minute, total).await;
    let sending = started.elapsed();
    // The CPU of this rate: until nothing is queued or running (asked
    // cheaply: reading every execution back costs CPU too, and is not part
    // of running them).
    let drained_by = Instant::now() + Duration::from_secs(120);
    while !drained(client, http, token).await && Instant::now() < drained_by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server_cpu = crate::cpu::of_process(server_pid).saturating_sub(server_cpu);
    let postgres_cpu = crate::cpu::of_postgres()
        .zip(postgres_cpu)
        .map(|(after, before)| after.saturating_sub(before));
    // Wait for the backlog to drain (bounded), then read every execution.
    let deadline = Instant::now() + Duration::from_secs(120);
    let ended = loop {
        let ended = ended_executions(client, http, token, &ids).await;
        if ended.len() == ids.len() || Instant::now() > deadline {
            break ended;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let mut latencies: Vec<Duration> = ended
        .iter()
        .filter_map(|(created, success)| (*success - *created).to_std().ok())
        .collect();
    latencies.sort();
    let first = ended.iter().map(|(c, _)| *c).min();
    let last = ended.iter().map(|(_, s)| *s).max();
    let span = match (first, last) {
        (Some(first), Some(last)) => (last - first).to_std().unwrap_or(sending),
        _ => sending,
    };
    let throughput = ended.len() as f64 / span.as_secs_f64().max(0.001) * 60.0;
    let at = |p: f64| -> String {
        if latencies.is_empty() {
            return "-".into();
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        format!("{:.0} ms", latencies[index].as_secs_f64() * 1000.0)
    };
    let per_thousand = |cpu: Duration| {
        if ended.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.2}", cpu.as_secs_f64() * 1000.0 / ended.len() as f64)
        }
    };
    println!(
        "| {per_minute} | {} of {total} | {} | {throughput:.0} | {} | {} | {} | {} | {} |",
        ids.len(),
        ended.len(),
        at(0.50),
        at(0.95),
        at(0.99),
        per_thousand(server_cpu),
        postgres_cpu.map_or("-".to_owned(), per_thousand),
    );
}

/// Sends `total` webhooks at `per_minute`; answers the ids of the
/// executions accepted.
async fn drive(client: &reqwest::Client, http: &str, per_minute: u64, total: u64) -> Vec<String> {
    let url =
        format!("{http}/api/v1/bench/executions/webhook/bench.webhook/bench/bench-webhook-key");
    let every = Duration::from_secs_f64(60.0 / per_minute as f64);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::with_capacity(total as usize);
    for n in 0..total {
        ticks.tick().await;
        let request = client.post(&url).json(&serde_json::json!({"n": n}));
        sent.push(tokio::spawn(async move {
            let response = request.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let body: serde_json::Value = response.json().await.ok()?;
            body["id"].as_str().map(str::to_owned)
        }));
    }
    let mut ids = Vec::with_capacity(sent.len());
    for handle in sent {
        if let Ok(Some(id)) = handle.await {
            ids.push(id);
        }
    }
    ids
}

/// Refreshes the planner statistics of the bench's schemas (what
/// autovacuum does within a minute or so of a table filling up).
async fn analyze(url: &str) {
    let db = Database::connect(url).await.expect("connect to PostgreSQL");
    let tables = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname LIKE 'bench\\_%\\_{}'",
                BENCH_RUN.get().map(String::as_str).unwrap_or("none")
            ),
        ))
        .await
        .expect("bench tables");
    for row in tables {
        let table: String = row.try_get_by_index(0).expect("name");
        db.execute_unprepared(&format!("ANALYZE {table}"))
            .await
            .expect("analyze");
    }
}

/// The suffix of this run's schemas.
static BENCH_RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether the bench tenant has nothing queued or running.
async fn drained(client: &reqwest::Client, http: &str, token: &str) -> bool {
    let Ok(response) = client
        .get(format!("{http}/api/v1/tenants/bench/usage"))
        .bearer_auth(token)
        .send()
        .await
    else {
        return false;
    };
    let Ok(usage) = response.json::<serde_json::Value>().await else {
        return false;
    };
    usage["runningExecutions"] == 0 && usage["queuedExecutions"] == 0
}

/// (CREATED, SUCCESS) times of the executions in `ids` that ended SUCCESS.
async fn ended_executions(
    client: &reqwest::Client,
    http: &str,
    token: &str,
    ids: &[String],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut found = Vec::with_capacity(ids.len());
    let mut page = 1;
    loop {
        let body: serde_json::Value = client
            .get(format!(
                "{http}/api/v1/bench/executions/search?state=SUCCESS&size=1000&page={page}"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("search json");
        let results = body["results"].as_array().cloned().unwrap_or_default();
        for execution in &results {
            if !execution["id"]
                .as_str()
                .is_some_and(|id| wanted.contains(id))
            {
                continue;
            }
            let at = |state| crate::measure::history_date(execution, state);
            if let (Some(created), Some(success)) = (at("CREATED"), at("SUCCESS")) {
                found.push((created, success));
            }
        }
        if results.len() < 1000 {
            return found;
        }
        page += 1;
    }
}

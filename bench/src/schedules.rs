//! `aerie-bench schedules`: Schedule triggers at scale. Creates `--tenants`
//! tenants holding `--minute-triggers` every-minute triggers and
//! `--second-triggers` every-second triggers between them, restarts the
//! server (so the scheduler starts with every trigger, and the start is
//! timed from its log), then watches `--minutes` whole minutes. Workers are
//! off: what is measured is firing (the execution accepted), not running.
//! Reads the executions from the server's SQLite file afterwards: each
//! trigger must have fired each tick of the window exactly once; lateness
//! is the execution's creation time minus its tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::server::{login, start_server_quotas};

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Every-minute triggers, spread over the tenants.
    #[arg(long, default_value_t = 10_000)]
    minute_triggers: usize,
    /// Every-second triggers, spread over the tenants.
    #[arg(long, default_value_t = 1000)]
    second_triggers: usize,
    /// Whole minutes watched; 0 times the scheduler's start only.
    #[arg(long, default_value_t = 2)]
    minutes: i64,
    /// Keeps the server's folder (data and config) for later restarts.
    #[arg(long)]
    keep: bool,
}

const SERVER: &str = "  executor:\n    workers: 0\n    trigger-refresh-seconds: 5\n";

fn flow(id: &str, cron: &str, seconds: bool) -> String {
    format!(
        "id: {id}\nnamespace: bench.cron\ntasks:\n  - id: when\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger.date }}}}\"\ntriggers:\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"{cron}\"\n    withSeconds: {seconds}\n"
    )
}

pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let (server, http, _) = start_server_quotas(&dir, "", SERVER);
    let client = crate::server::http_client();
    let token = login(&client, &http).await;
    let tenants: Vec<String> = (0..options.tenants).map(|i| format!("t{i:05}")).collect();
    let started = Instant::now();
    let created = futures::stream::iter(tenants.clone())
        .map(|id| {
            let (client, http, token) = (client.clone(), http.clone(), token.clone());
            async move {
                client
                    .post(format!("{http}/api/v1/tenants"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"id": id, "name": id, "adminUsername": "bench"}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(created, tenants.len(), "every tenant created");
    let mut flows = Vec::new();
    for i in 0..options.minute_triggers {
        flows.push((
            tenants[i % tenants.len()].clone(),
            flow(&format!("m{i}"), "* * * * *", false),
        ));
    }
    for i in 0..options.second_triggers {
        flows.push((
            tenants[i % tenants.len()].clone(),
            flow(&format!("s{i}"), "* * * * * *", true),
        ));
    }
    let token = Arc::new(token);
    let saved = futures::stream::iter(flows)
        .map(|(tenant, source)| {
            let (client, http, token) = (client.clone(), http.clone(), token.clone());
            async move {
                client
                    .post(format!("{http}/api/v1/{tenant}/flows"))
                    .bearer_auth(token.as_str())
                    .header("content-type", "application/x-yaml")
                    .body(source)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let total = options.minute_triggers + options.second_triggers;
    assert_eq!(saved, total, "every flow saved");
    println!(
        "schedules benchmark: {} tenants, {} every-minute and {} every-second triggers (set up in {:.0} s)",
        options.tenants,
        options.minute_triggers,
        options.second_triggers,
        started.elapsed().as_secs_f64()
    );

    // A restart: the scheduler starts with every trigger.
    drop(server);
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(&log);
    let (_server, _, _) = start_server_quotas(&dir, "", SERVER);
    let start_line = wait_for_line(&log, "scheduler started", Duration::from_secs(120)).await;
    println!("scheduler start: {}", start_line.trim());
    if options.minutes == 0 {
        remove_unless_kept(&dir, options.keep);
        return;
    }

    // The window: whole minutes from the next one on.
    let now = Utc::now();
    let window_start = (now + chrono::Duration::seconds(60 - i64::from(now.second())))
        .with_nanosecond(0)
        .expect("whole second");
    let window_end = window_start + chrono::Duration::minutes(options.minutes);
    let wait = (window_end - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(5);
    println!(
        "watching {} to {} ...",
        window_start.format("%H:%M:%S"),
        window_end.format("%H:%M:%S")
    );
    tokio::time::sleep(wait).await;

    let url = format!(
        "sqlite://{}?mode=ro",
        dir.join("data/execution.db").display()
    );
    let db = Database::connect(&url).await.expect("execution database");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tenant_id, flow_id, trigger, create_time FROM executions",
        ))
        .await
        .expect("executions");
    let mut fired: HashMap<(String, String), Ticks> = HashMap::new();
    for row in rows {
        let tenant: String = row.try_get("", "tenant_id").expect("tenant");
        let flow: String = row.try_get("", "flow_id").expect("flow");
        let trigger: String = row.try_get("", "trigger").expect("trigger");
        let created: DateTime<Utc> = row.try_get("", "create_time").expect("created");
        let trigger: serde_json::Value = serde_json::from_str(&trigger).unwrap_or_default();
        let Some(tick) = trigger["date"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        else {
            continue;
        };
        fired
            .entry((tenant, flow))
            .or_default()
            .entry(tick.timestamp())
            .or_default()
            .push(created);
    }
    println!(
        "| triggers | ticks expected | fired once | missed | fired twice or more | lateness p50 | p99 | max |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (prefix, count, step) in [
        ("m", options.minute_triggers, 60),
        ("s", options.second_triggers, 1),
    ] {
        if count == 0 {
            continue;
        }
        let (mut once, mut missed, mut twice) = (0u64, 0u64, 0u64);
        let mut missed_at = Vec::new();
        let mut lateness = Vec::new();
        for i in 0..count {
            let key = (tenants[i % tenants.len()].clone(), format!("{prefix}{i}"));
            let ticks = fired.get(&key);
            let mut tick = window_start.timestamp();
            while tick < window_end.timestamp() {
                match ticks.and_then(|t| t.get(&tick)) {
                    None => {
                        missed += 1;
                        missed_at.push(tick - window_start.timestamp());
                    }
                    Some(times) => {
                        if times.len() == 1 {
                            once += 1;
                        } else {
                            twice += 1;
                        }
                        for created in times {
                            let late = (created.timestamp_millis() - tick * 1000).max(0);
                            lateness.push(Duration::from_millis(late as u64));
                        }
                    }
                }
                tick += step;
            }
        }
        lateness.sort();
        missed_at.sort();
        if let (Some(first), Some(last)) = (missed_at.first(), missed_at.last()) {
            println!("(missed ticks from {first} s to {last} s into the window)");
        }
        let at = |p: f64| {
            if lateness.is_empty() {
                return "-".to_owned();
            }
            let index = ((lateness.len() as f64 * p).ceil() as usize).clamp(1, lateness.len()) - 1;
            format!("{:.0} ms", lateness[index].as_secs_f64() * 1000.0)
        };
        let expected = count as i64 * options.minutes * 60 / step;
        println!(
            "| {count} every {} | {expected} | {once} | {missed} | {twice} | {} | {} | {} |",
            if step == 60 { "minute" } else { "second" },
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    remove_unless_kept(&dir, options.keep);
}

fn remove_unless_kept(dir: &std::path::Path, keep: bool) {
    if keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Creation times of each tick's executions, by tick (epoch seconds).
type Ticks = HashMap<i64, Vec<DateTime<Utc>>>;

/// Waits until `log` holds a line containing `needle`; answers it.
async fn wait_for_line(log: &std::path::Path, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(log)
            && let Some(line) = text.lines().find(|l| l.contains(needle))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no '{needle}' in {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

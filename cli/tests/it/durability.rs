//! What the execution guarantee means under failure and with replicas: a
//! worker process killed with SIGKILL loses nothing, several worker
//! processes share the queue without running anything twice, and a
//! Schedule tick fires once however many schedulers see it.

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use aerie_common::config::Config;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::{Mode, TestApp};
use crate::cluster::free_port;
use crate::executions::{create_flow, tenant};

/// An API-only server: executions are accepted here and run by separate
/// `aerie server execution` processes.
async fn api_only() -> TestApp {
    TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.workers = 0;
        config.executor.scheduler = false;
    })
    .await
}

/// An `aerie server execution` worker process sharing `app`'s databases,
/// its debug log written to `log`.
fn worker(app: &TestApp, log: &std::path::Path) -> Child {
    worker_with_lease(app, log, 2)
}

/// A worker holding its leases `lease_seconds` without renewal.
fn worker_with_lease(app: &TestApp, log: &std::path::Path, lease_seconds: u64) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("-c")
        .arg(&app.config_path)
        .args([
            "-l",
            "aerie_execution_svc=debug,warn",
            "server",
            "execution",
        ])
        .env("AERIE_SERVER_GRPC_PORT", free_port().to_string())
        .env("AERIE_ENDPOINTS_FLOW", &app.grpc)
        .env("AERIE_ENDPOINTS_AUTH", &app.grpc)
        .env("AERIE_ENDPOINTS_TENANT", &app.grpc)
        .env("AERIE_EXECUTOR_WORKERS", "64")
        .env("AERIE_EXECUTOR_LEASE_SECONDS", lease_seconds.to_string())
        .env("AERIE_EXECUTOR_POLL_INTERVAL_MS", "100")
        .env("AERIE_EXECUTOR_SCHEDULER", "false")
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .expect("spawn worker")
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn start_many(app: &TestApp, flow: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let (status, body) = app
            .post(&format!("/api/v1/acme/executions/{flow}"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    ids
}

/// Waits until at least `count` executions of acme are RUNNING.
async fn wait_running(app: &TestApp, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = app
            .get("/api/v1/acme/executions/search?state=RUNNING&size=1")
            .await;
        if page["total"].as_u64().unwrap_or(0) >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never started: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn execution(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until every execution has ended; answers them.
async fn all_ended(app: &TestApp, ids: &[String], within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let mut ended = Vec::with_capacity(ids.len());
        for id in ids {
            let body = execution(app, id).await;
            let state = body["state"]["current"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !matches!(state.as_str(), "SUCCESS" | "WARNING" | "FAILED" | "KILLED") {
                break;
            }
            ended.push(body);
        }
        if ended.len() == ids.len() {
            return ended;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} executions ended in time",
            ended.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every execution ended SUCCESS with one task run per task, each done
/// once, and its one log line written once.
async fn each_done_once(app: &TestApp, executions: &[Value], tasks: &[&str]) {
    for execution in executions {
        let id = execution["id"].as_str().expect("execution id");
        assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
        let runs = execution["taskRunList"].as_array().expect("task runs");
        let mut per_task = BTreeMap::new();
        for run in runs {
            assert_eq!(run["state"]["current"], "SUCCESS", "{run}");
            let successes = run["state"]["histories"]
                .as_array()
                .expect("histories")
                .iter()
                .filter(|h| h["state"] == "SUCCESS")
                .count();
            assert_eq!(successes, 1, "a task run completed twice: {run}");
            *per_task
                .entry(run["taskId"].as_str().expect("task id").to_owned())
                .or_insert(0) += 1;
        }
        let expected: BTreeMap<String, i32> = tasks.iter().map(|t| ((*t).to_owned(), 1)).collect();
        assert_eq!(per_task, expected, "{execution}");
        let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
        let said = logs
            .as_array()
            .expect("log lines")
            .iter()
            .filter(|l| l["message"] == format!("start {id}"))
            .count();
        assert_eq!(said, 1, "the Log task of {id} ran {said} times");
    }
}

const NAPPING: &str = "id: napping\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"start {{ execution.id }}\"\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT3S\n  - id: done\n    type: io.kestra.plugin.core.debug.Return\n    format: done\n";

#[tokio::test]
async fn a_killed_worker_loses_no_execution() {
    let app = api_only().await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", NAPPING).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = worker(&app, &dir.path().join("first.log"));
    let ids = start_many(&app, "company.team/napping", 100).await;
    // Kill -9 once some are asleep inside their Sleep task.
    wait_running(&app, 30).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let (_, page) = app
        .get("/api/v1/acme/executions/search?state=SUCCESS&size=1")
        .await;
    assert!(
        page["total"].as_u64().unwrap() < 100,
        "the crash came too late: {page}"
    );

    let _second = Workers(vec![worker(&app, &dir.path().join("second.log"))]);
    let ended = all_ended(&app, &ids, Duration::from_secs(90)).await;
    each_done_once(&app, &ended, &["hello", "nap", "done"]).await;
    // Some sleeps resumed after the crash (a second attempt of the same run).
    let resumed = ended
        .iter()
        .flat_map(|e| e["taskRunList"].as_array().unwrap().clone())
        .filter(|r| r["taskId"] == "nap" && r["attempts"].as_u64() > Some(1))
        .count();
    assert!(resumed > 0, "no execution was interrupted by the crash");
}

#[tokio::test]
async fn two_worker_processes_share_the_queue_without_running_anything_twice() {
    let app = api_only().await;
    if !app
        .config
        .database
        .execution
        .url
        .as_deref()
        .unwrap_or_default()
        .starts_with("postgres")
    {
        eprintln!("several execution processes need PostgreSQL; SQLite serves one process");
        return;
    }
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: shared\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"start {{ execution.id }}\"\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.3S\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let workers = Workers(vec![worker(&app, &logs[0]), worker(&app, &logs[1])]);
    let ids = start_many(&app, "company.team/shared", 200).await;
    let ended = all_ended(&app, &ids, Duration::from_secs(120)).await;
    each_done_once(&app, &ended, &["hello", "nap"]).await;
    for execution in &ended {
        for run in execution["taskRunList"].as_array().unwrap() {
            assert_eq!(run["attempts"], 1, "ran twice: {run}");
        }
    }
    drop(workers);
    let ended_by: Vec<usize> = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .expect("log")
                .lines()
                .filter(|l| l.contains("execution ended"))
                .count()
        })
        .collect();
    assert_eq!(ended_by.iter().sum::<usize>(), 200, "{ended_by:?}");
    assert!(
        ended_by.iter().all(|n| *n > 0),
        "both processes worked: {ended_by:?}"
    );
}

#[tokio::test]
async fn a_schedule_tick_fires_once_with_two_schedulers() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.trigger_refresh_seconds = 1;
    })
    .await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: ticking\nnamespace: company.team\ntasks:\n  - id: when\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n",
    )
    .await;
    // A second replica's scheduler on the same database.
    let mut config: Config = app.config.clone();
    let port: u16 = app.grpc.rsplit(':').next().unwrap().parse().unwrap();
    config.default_endpoints_to(port);
    config.executor.workers = 0;
    let replica = aerie_execution_svc::open(&config).await.expect("replica");
    let stop = CancellationToken::new();
    let tenants = aerie_execution_svc::live_tenants::LiveTenants::new(
        replica.engine().clone(),
        aerie_common::grpc::lazy_channel(&config.tenant_endpoint()).expect("channel"),
        config.tenant_policy(),
    );
    aerie_execution_svc::scheduler::Scheduler::new(replica.engine().clone(), tenants, &config)
        .spawn(stop.clone());
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.cancel();
    let (_, page) = app
        .get("/api/v1/acme/executions/search?flowId=ticking&size=100")
        .await;
    let dates: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["trigger"]["date"].as_str().expect("tick date").to_owned())
        .collect();
    assert!(dates.len() >= 3, "the schedule fired: {page}");
    let distinct: std::collections::BTreeSet<_> = dates.iter().collect();
    assert_eq!(distinct.len(), dates.len(), "a tick fired twice: {dates:?}");
    for execution in page["results"].as_array().unwrap() {
        assert_eq!(
            execution["trigger"]["type"],
            "io.kestra.plugin.core.trigger.Schedule"
        );
        assert_eq!(execution["trigger"]["id"], "every_second");
    }
}

/// The scheduler reads again only the tenants flow-svc announces as
/// changed: with the full re-read an hour away, a schedule saved after the
/// start fires within seconds, and stops within seconds once deleted.
#[tokio::test]
async fn schedules_saved_or_deleted_after_start_take_effect_at_once() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.trigger_refresh_seconds = 3600;
    })
    .await;
    tenant(&app, "acme").await;
    // Let the scheduler's first full read pass.
    tokio::time::sleep(Duration::from_secs(2)).await;
    create_flow(
        &app,
        "acme",
        "id: late\nnamespace: company.team\ntasks:\n  - id: when\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n",
    )
    .await;
    let count = || async {
        let (status, page) = app
            .get("/api/v1/acme/executions/search?flowId=late&size=1")
            .await;
        assert_eq!(status, 200, "{page}");
        page["total"].as_u64().expect("total")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count().await < 2 {
        assert!(
            Instant::now() < deadline,
            "a schedule saved after the start never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A new revision of the flow is what its next ticks start, within
    // seconds (the scheduler keeps each flow by revision).
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/late",
            &app.admin,
            "id: late\nnamespace: company.team\ntasks:\n  - id: when\n    type: io.kestra.plugin.core.debug.Return\n    format: \"v2 {{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = app
            .get("/api/v1/acme/executions/search?flowId=late&size=100")
            .await;
        let revisions: Vec<&Value> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|execution| &execution["flowRevision"])
            .collect();
        if revisions.contains(&&json!(2)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ticks kept starting revision 1: {revisions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = app.delete("/api/v1/acme/flows/company.team/late").await;
    assert_eq!(status, 204, "{body}");
    // At most a tick in flight when the delete landed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = count().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count().await, settled, "a deleted schedule kept firing");
}

/// Replicas of every service starting at once on one fresh database (a
/// rolling deploy, or `replicas: 3` on first install) all migrate and
/// serve: on PostgreSQL an advisory lock per service serialises them.
#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let databases = [
        aerie_common::testkit::TestDatabase::new("tenant").await,
        aerie_common::testkit::TestDatabase::new("auth").await,
        aerie_common::testkit::TestDatabase::new("flow").await,
        aerie_common::testkit::TestDatabase::new("execution").await,
    ];
    config.database.tenant = databases[0].config();
    config.database.auth = databases[1].config();
    config.database.flow = databases[2].config();
    config.database.execution = databases[3].config();
    if databases[0].backend == "sqlite" {
        // SQLite serves one process; the lock exists for PostgreSQL.
        println!("replicas share PostgreSQL only: not applicable on SQLite");
        return;
    }
    let replicas = (0..3).map(|_| {
        let config = config.clone();
        async move {
            let (tenant, auth, flow, execution) = tokio::join!(
                aerie_tenant_svc::open(&config),
                aerie_auth_svc::open(&config),
                aerie_flow_svc::open(&config),
                aerie_execution_svc::open(&config),
            );
            [
                tenant.err().map(|e| e.to_string()),
                auth.err().map(|e| e.to_string()),
                flow.err().map(|e| e.to_string()),
                execution.err().map(|e| e.to_string()),
            ]
        }
    });
    for errors in futures::future::join_all(replicas).await {
        assert_eq!(errors, [None, None, None, None]);
    }
}

/// Sends SIGTERM to `child` and waits (up to `within`) for it to exit,
/// without blocking the runtime that runs the test's own server.
async fn terminate(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the process did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stopped_worker_hands_its_executions_over_at_once() {
    let app = api_only().await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", NAPPING).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Leases of 60 s: without their release at shutdown, the second worker
    // could resume nothing for a minute.
    let mut first = Workers(vec![worker_with_lease(
        &app,
        &dir.path().join("first.log"),
        60,
    )]);
    let ids = start_many(&app, "company.team/napping", 10).await;
    wait_running(&app, 5).await;
    let status = terminate(&mut first.0[0], Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    let _second = Workers(vec![worker_with_lease(
        &app,
        &dir.path().join("second.log"),
        60,
    )]);
    let ended = all_ended(&app, &ids, Duration::from_secs(30)).await;
    each_done_once(&app, &ended, &["hello", "nap", "done"]).await;
}

#[tokio::test]
async fn sigterm_ends_follow_streams_with_a_status_and_stops_within_the_deadline() {
    use aerie_proto::execution::v1 as pb;
    use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
    let app = api_only().await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: long\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1H\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let file = std::fs::File::create(dir.path().join("worker.log")).expect("log");
    let worker = Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("-c")
        .arg(&app.config_path)
        .args(["-l", "warn", "server", "execution"])
        .env("AERIE_SERVER_GRPC_PORT", port.to_string())
        .env("AERIE_SERVER_SHUTDOWN_TIMEOUT", "3")
        .env("AERIE_ENDPOINTS_FLOW", &app.grpc)
        .env("AERIE_ENDPOINTS_AUTH", &app.grpc)
        .env("AERIE_ENDPOINTS_TENANT", &app.grpc)
        .env("AERIE_EXECUTOR_WORKERS", "4")
        .env("AERIE_EXECUTOR_SCHEDULER", "false")
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("spawn worker");
    let mut worker = Workers(vec![worker]);
    let ids = start_many(&app, "company.team/long", 1).await;
    // Follow it on the worker process itself, until SIGTERM.
    let endpoint = format!("http://127.0.0.1:{port}");
    let channel = loop {
        if let Ok(channel) = tonic::transport::Channel::from_shared(endpoint.clone())
            .expect("uri")
            .connect()
            .await
        {
            break channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stream = ExecutionServiceClient::new(channel)
        .follow_execution(crate::app::call(
            pb::FollowExecutionRequest { id: ids[0].clone() },
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("follow")
        .into_inner();
    stream.message().await.expect("first message").expect("one");
    let status = terminate(&mut worker.0[0], Duration::from_secs(15)).await;
    assert!(status.success(), "{status}");
    let ended = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            other => break other,
        }
    };
    match ended {
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            assert!(status.message().contains("shutting down"), "{status:?}");
        }
        Ok(None) => panic!("the stream ended without saying why"),
        Ok(Some(_)) => unreachable!(),
    }
}

#[tokio::test]
async fn a_worker_paused_past_its_leases_runs_nothing_twice() {
    let app = api_only().await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", NAPPING).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let workers = Workers(vec![worker(&app, &dir.path().join("worker.log"))]);
    let ids = start_many(&app, "company.team/napping", 20).await;
    wait_running(&app, 10).await;
    // A pause (or a database outage) longer than the 2 s lease: when the
    // process goes on, its leases have expired and it claims the same
    // executions again. Only the new claims may write.
    let pid = workers.0[0].id().to_string();
    let signal = |name: &str| {
        let status = Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {name}");
    };
    signal("-STOP");
    tokio::time::sleep(Duration::from_secs(4)).await;
    signal("-CONT");
    let ended = all_ended(&app, &ids, Duration::from_secs(60)).await;
    each_done_once(&app, &ended, &["hello", "nap", "done"]).await;
}

#[tokio::test]
async fn schedules_pass_over_disabled_flows_and_inputs_a_schedule_cannot_give() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.trigger_refresh_seconds = 1;
    })
    .await;
    tenant(&app, "acme").await;
    let every_second = "triggers:\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n";
    let task = "tasks:\n  - id: when\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.date }}\"\n";
    for (id, extra) in [
        ("running", ""),
        ("stopped", "disabled: true\n"),
        (
            "needs",
            "inputs:\n  - id: who\n    type: STRING\n    required: true\n",
        ),
    ] {
        create_flow(
            &app,
            "acme",
            &format!("id: {id}\nnamespace: company.team\n{extra}{task}{every_second}"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let count = |flow: &'static str| {
        let app = &app;
        async move {
            let (_, page) = app
                .get(&format!(
                    "/api/v1/acme/executions/search?flowId={flow}&size=1"
                ))
                .await;
            page["total"].as_u64().expect("total")
        }
    };
    assert!(
        count("running").await >= 2,
        "an enabled flow's schedule fires"
    );
    assert_eq!(count("stopped").await, 0, "a disabled flow's ticks pass");
    assert_eq!(count("needs").await, 0, "no value for a required input");
}

//! Per-tenant quotas: only a super admin sets a tenant's own quotas
//! (through REST, gRPC or the CLI), they are applied to that tenant alone,
//! and each tenant's usage is visible to those who may see the tenant.

use std::time::{Duration, Instant};

use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use serde_json::json;
use tonic::Code;

use crate::app::{Mode, TestApp, call};
use crate::executions::{create_flow, run, tenant};

const EACH_OF_FOUR: &str = "id: each\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b, c, d]\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n";

#[tokio::test]
async fn only_a_super_admin_sets_a_tenants_quotas_and_they_apply_to_it_alone() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "other").await;
    let ann = app.user("ann").await;
    app.bind(Some("acme"), "ann", "Admin", None).await;
    let bob = app.user("bob").await;
    app.bind(Some("other"), "bob", "Admin", None).await;

    let put = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::PUT,
                "/api/v1/tenants/acme/quotas",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    // The tenant's own Admin cannot lift its limits; another tenant's
    // Admin does not even learn that acme exists.
    let (status, body) = put(ann.clone(), json!({"foreachItems": 100000})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = put(bob.clone(), json!({"foreachItems": 100000})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = put(app.admin.clone(), json!({"foreachItems": 0})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("foreachItems"), "{body}");
    let (status, body) = put(app.admin.clone(), json!({"foreachItemz": 3})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put(app.admin.clone(), json!({"foreachItems": 3})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quotas"], json!({"foreachItems": 3}));
    let (_, shown) = app.get("/api/v1/tenants/acme").await;
    assert_eq!(shown["quotas"], json!({"foreachItems": 3}));

    for tenant in ["acme", "other"] {
        create_flow(&app, tenant, EACH_OF_FOUR).await;
    }
    let limited = run(&app, "acme", "company.team/each", json!({})).await;
    assert_eq!(limited["state"]["current"], "FAILED", "{limited}");
    let id = limited["id"].as_str().expect("id");
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert!(logs.to_string().contains("foreach-items"), "{logs}");
    let free = run(&app, "other", "company.team/each", json!({})).await;
    assert_eq!(free["state"]["current"], "SUCCESS", "{free}");

    // Usage: for the tenant's members and the super admin, nobody else.
    let (status, usage) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/tenants/acme/usage",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["quotas"]["foreachItems"], 3);
    assert_eq!(
        usage["quotas"]["runningExecutions"], 64,
        "defaults in force"
    );
    assert_eq!(usage["executionsLastMinute"], 1);
    let (status, _) = app.get("/api/v1/tenants/acme/usage").await;
    assert_eq!(status, 200);
    let (status, body) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/tenants/acme/usage",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.get("/api/v1/tenants/nope/usage").await;
    assert_eq!(status, 404);
    // Bob's token with acme spoofed in the header, straight to the service.
    let mut executions = ExecutionServiceClient::new(app.channel().await);
    let spoofed = executions
        .get_usage(call(pb::GetUsageRequest {}, Some(&bob), Some("acme")))
        .await
        .expect_err("bob is not in acme");
    assert_eq!(spoofed.code(), Code::NotFound, "{spoofed:?}");

    // `{}` drops every override: the defaults apply again.
    let (status, body) = put(app.admin.clone(), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quotas"], json!({}));
}

#[tokio::test]
async fn a_tenants_own_rate_and_running_quotas_bound_it_and_not_its_neighbours() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "slow").await;
    tenant(&app, "fast").await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/slow/quotas",
            json!({"runningExecutions": 1, "executionsPerMinute": 3}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let nap = "id: nap\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.5S\n";
    for tenant in ["slow", "fast"] {
        create_flow(&app, tenant, nap).await;
    }
    let mut started = Vec::new();
    for _ in 0..3 {
        let (status, body) = app
            .post("/api/v1/slow/executions/company.team/nap", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        started.push(body["id"].as_str().expect("id").to_owned());
    }
    let (status, body) = app
        .post("/api/v1/slow/executions/company.team/nap", json!({}))
        .await;
    assert_eq!(status, 429, "the fourth in a minute: {body}");
    for _ in 0..4 {
        let (status, body) = app
            .post("/api/v1/fast/executions/company.team/nap", json!({}))
            .await;
        assert_eq!(status, 200, "fast has the default rate: {body}");
    }
    // One of slow's runs at a time, however many workers are free.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut most_running = 0;
    loop {
        let (_, usage) = app.get("/api/v1/tenants/slow/usage").await;
        let running = usage["runningExecutions"].as_u64().expect("running");
        most_running = most_running.max(running);
        let (_, done) = app
            .get("/api/v1/slow/executions/search?state=SUCCESS&size=1")
            .await;
        if done["total"] == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "slow's executions never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(most_running, 1, "slow ran more than its quota at once");
    let (_, page) = app
        .get("/api/v1/slow/executions/search?state=SUCCESS&size=3")
        .await;
    let mut spans: Vec<(String, String)> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|e| {
            let histories = e["state"]["histories"].as_array().expect("histories");
            let at = |state: &str| {
                histories
                    .iter()
                    .find(|h| h["state"] == state)
                    .and_then(|h| h["date"].as_str())
                    .expect("state date")
                    .to_owned()
            };
            (at("RUNNING"), at("SUCCESS"))
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two ran at once: {spans:?}");
    }
}

/// `aerie tenants quotas --tenant acme ARGS...`.
async fn aerie(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    app.cli(&[&["tenants", "quotas", "--tenant", "acme"][..], args].concat())
        .await
}

#[tokio::test]
async fn the_cli_shows_and_changes_a_tenants_quotas() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (ok, stdout, stderr) = aerie(
        &app,
        &["--set", "running-executions=7", "--set", "foreach-items=9"],
    )
    .await;
    assert!(ok, "{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("running-executions"), "7 tenant");
    assert_eq!(line("foreach-items"), "9 tenant");
    assert_eq!(line("queued-executions"), "10000 default");
    let (_, body) = app.get("/api/v1/tenants/acme").await;
    assert_eq!(
        body["quotas"],
        json!({"runningExecutions": 7, "foreachItems": 9})
    );
    let (ok, stdout, stderr) = aerie(&app, &["--unset", "foreach-items"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("foreach-items"), "{stdout}");
    let (_, body) = app.get("/api/v1/tenants/acme").await;
    assert_eq!(body["quotas"], json!({"runningExecutions": 7}));
    for bad in [
        &["--set", "bogus=1"][..],
        &["--set", "foreach-items=lots"],
        &["--set", "foreach-items=0"],
    ] {
        let (ok, _, stderr) = aerie(&app, bad).await;
        assert!(!ok, "{bad:?} was accepted");
        assert!(
            stderr.contains("bogus") || stderr.contains("lots") || stderr.contains("at least 1"),
            "{bad:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn per_tenant_usage_gauges_appear_only_when_switched_on() {
    if crate::topology::processes_requested() {
        // Five processes would share the one metrics port of the config;
        // per-process metrics are `observability.rs`'s.
        eprintln!("skipped in multi-process mode");
        return;
    }
    let port = crate::cluster::free_port();
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.server.metrics_port = Some(port);
        config.server.metrics_tenant_labels = true;
    })
    .await;
    tenant(&app, "metered").await;
    create_flow(
        &app,
        "metered",
        "id: nap\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n",
    )
    .await;
    let (status, body) = app
        .post("/api/v1/metered/executions/company.team/nap", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let series = r#"aerie_tenant_executions{tenant="metered",state="running"} 1"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = crate::observability::scrape(port).await;
        if text.contains(series) {
            break;
        }
        assert!(Instant::now() < deadline, "no {series} in:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Off by default: `every_process_serves_metrics_with_bounded_labels`
    // checks that no metric names a tenant.
}

/// Nested ForEach loops multiply: each loop stays under `foreach-items`,
/// yet together they would create task runs without end (and the memory
/// to hold them, for every tenant of the process). Past the tenant's
/// `task-runs-per-execution` the execution creates no more and fails,
/// naming the quota; a neighbour with the default quota runs the flow.
#[tokio::test]
async fn nested_loops_stop_at_the_tenants_task_run_quota() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "other").await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"taskRunsPerExecution": 30}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let nested = "id: grid\nnamespace: company.team\ntasks:\n  - id: rows\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2, 3, 4, 5, 6]\n    concurrencyLimit: 0\n    allowFailure: true\n    tasks:\n      - id: cols\n        type: io.kestra.plugin.core.flow.ForEach\n        values: [1, 2, 3, 4, 5, 6]\n        tasks:\n          - id: cell\n            type: io.kestra.plugin.core.debug.Return\n            format: \"{{ taskrun.value }}\"\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n";
    create_flow(&app, "acme", nested).await;
    create_flow(&app, "other", nested).await;
    let stopped = run(&app, "acme", "company.team/grid", json!({})).await;
    assert_eq!(stopped["state"]["current"], "FAILED", "{stopped}");
    let runs = stopped["taskRunList"].as_array().expect("runs").len();
    assert!((30..=31).contains(&runs), "{runs} task runs");
    let (_, logs) = app
        .get(&format!(
            "/api/v1/acme/logs/{}",
            stopped["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        logs.to_string().contains("quota task-runs-per-execution"),
        "{logs}"
    );
    // 1 + 6 + 36 + 1 task runs, under the default quota.
    let fine = run(&app, "other", "company.team/grid", json!({})).await;
    assert_eq!(fine["state"]["current"], "SUCCESS", "{fine}");
    assert_eq!(fine["taskRunList"].as_array().expect("runs").len(), 44);
}

#[tokio::test]
async fn flow_outputs_are_bounded_like_a_task_runs() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"outputBytesPerTaskRun": 1000}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let flow = "id: wide\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n  - id: big\n    type: STRING\n    value: \"{{ range(2000) | join(',') }}\"\n";
    create_flow(&app, "acme", flow).await;
    let ended = run(&app, "acme", "company.team/wide", json!({})).await;
    assert_eq!(ended["state"]["current"], "FAILED", "{ended}");
    assert_eq!(ended["outputs"], json!({}), "nothing of them is kept");
    let id = ended["id"].as_str().expect("id");
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert!(
        logs.to_string()
            .contains("more than the tenant's quota of 1000 (quota output-bytes-per-task-run)"),
        "{logs}"
    );
}

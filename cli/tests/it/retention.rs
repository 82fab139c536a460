//! Data that does not grow forever: ended executions past their tenant's
//! retention go with their task runs, logs and files, and so do old audit
//! entries; a purge does the same on demand, for those allowed to delete
//! every execution of the tenant, and never touches running executions.

use std::path::Path;
use std::time::{Duration, Instant};

use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use serde_json::json;
use tonic::Code;

use crate::app::{Mode, TestApp, call};
use crate::executions::{create_flow, run, tenant};

const WRITER: &str = "id: writer\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n  - id: file\n    type: io.kestra.plugin.core.storage.Write\n    content: some bytes\n    extension: .txt\n";
const NAPPER: &str = "id: napper\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n";

/// Files under `dir` whose path names `needle`.
fn files_naming(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_naming(&path, needle));
        } else if path.to_string_lossy().contains(needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

async fn start_napper(app: &TestApp, tenant: &str) -> String {
    let (status, body) = app
        .post(
            &format!("/api/v1/{tenant}/executions/company.team/napper"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn ended_executions_and_audit_entries_go_after_their_tenants_retention() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.tenants.quotas.execution_retention = "PT2S".into();
        config.tenants.quotas.audit_retention = "PT2S".into();
        config.executor.retention_interval_seconds = 1;
    })
    .await;
    tenant(&app, "brief").await;
    tenant(&app, "kept").await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/kept/quotas",
            json!({"executionRetention": "P1D", "auditRetention": "P1D"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ended = Vec::new();
    for tenant in ["brief", "kept"] {
        create_flow(&app, tenant, WRITER).await;
        create_flow(&app, tenant, NAPPER).await;
        let done = run(&app, tenant, "company.team/writer", json!({})).await;
        assert_eq!(done["state"]["current"], "SUCCESS", "{done}");
        ended.push((tenant, done["id"].as_str().expect("id").to_owned()));
    }
    let running = start_napper(&app, "brief").await;
    let storage = app.config.local_storage_path();
    let (brief_id, kept_id) = (&ended[0].1, &ended[1].1);
    assert!(
        !files_naming(&storage, brief_id).is_empty(),
        "Write stored a file"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = app
            .get(&format!("/api/v1/brief/executions/{brief_id}"))
            .await;
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "brief's execution outlived its retention"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        files_naming(&storage, brief_id).is_empty(),
        "its files went too"
    );
    let (_, logs) = app.get(&format!("/api/v1/brief/logs/{brief_id}")).await;
    assert!(
        !logs.to_string().contains("hello"),
        "its logs went too: {logs}"
    );
    let (status, body) = app
        .get(&format!("/api/v1/brief/executions/{running}"))
        .await;
    assert_eq!(status, 200, "a running execution is never deleted: {body}");
    let (status, body) = app.get(&format!("/api/v1/kept/executions/{kept_id}")).await;
    assert_eq!(status, 200, "kept's own retention is a day: {body}");
    assert!(!files_naming(&storage, kept_id).is_empty());

    // Audit entries: brief's older than 2 s go, kept's stay.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = app.get("/api/v1/brief/auditlogs/search?size=100").await;
        let old = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|e| e["resourceId"] == "company.team.writer")
            .count();
        if old == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "brief's audit entries outlived their retention: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, page) = app.get("/api/v1/kept/auditlogs/search?size=100").await;
    assert!(
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|e| e["resourceId"] == "company.team.writer"),
        "{page}"
    );
}

#[tokio::test]
async fn a_purge_needs_delete_on_the_whole_tenant_and_spares_running_executions() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "other").await;
    create_flow(&app, "acme", WRITER).await;
    create_flow(&app, "acme", NAPPER).await;
    let mut done = Vec::new();
    for _ in 0..3 {
        let execution = run(&app, "acme", "company.team/writer", json!({})).await;
        done.push(execution["id"].as_str().expect("id").to_owned());
    }
    let running = start_napper(&app, "acme").await;

    let (status, _) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "runner", "permissions": ["EXECUTION:READ", "EXECUTION:CREATE"]}),
        )
        .await;
    assert_eq!(status, 201);
    let carl = app.user("carl").await;
    app.bind(Some("acme"), "carl", "runner", None).await;
    let bob = app.user("bob").await;
    app.bind(Some("other"), "bob", "Admin", None).await;
    let future = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let purge = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/acme/executions/purge",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (status, body) = purge(carl, json!({"before": future})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = purge(bob.clone(), json!({"before": future})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = purge(app.admin.clone(), json!({"before": "yesterday"})).await;
    assert_eq!(status, 422, "{body}");
    // Bob's token, acme spoofed in the header, straight to the service.
    let mut executions = ExecutionServiceClient::new(app.channel().await);
    let spoofed = executions
        .purge_executions(call(
            pb::PurgeExecutionsRequest {
                before: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 60,
                    nanos: 0,
                }),
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .expect_err("bob is not in acme");
    assert_eq!(spoofed.code(), Code::NotFound);
    // Word for word what a tenant that does not exist answers.
    let unknown = executions
        .get_usage(call(pb::GetUsageRequest {}, Some(&bob), Some("zz")))
        .await
        .expect_err("no tenant zz");
    let hidden = executions
        .get_usage(call(pb::GetUsageRequest {}, Some(&bob), Some("acme")))
        .await
        .expect_err("bob is not in acme");
    assert_eq!(
        hidden.message().replace("acme", "zz"),
        unknown.message(),
        "acme's existence shows"
    );
    for id in &done {
        let (status, _) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
        assert_eq!(status, 200, "nothing purged by a refused call");
    }

    let (status, body) = purge(app.admin.clone(), json!({"before": future})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["purged"], 3);
    for id in &done {
        let (status, _) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
        assert_eq!(status, 404);
    }
    let (status, _) = app.get(&format!("/api/v1/acme/executions/{running}")).await;
    assert_eq!(status, 200, "the running execution stays");
    // Deleting history is itself on record.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page) = app
            .get("/api/v1/acme/auditlogs/search?resourceType=EXECUTION&size=100")
            .await;
        let purge = page["results"].as_array().and_then(|entries| {
            entries
                .iter()
                .find(|e| e["action"] == "DELETE" && e["details"]["operation"] == "PURGE")
                .cloned()
        });
        if let Some(entry) = purge {
            assert_eq!(entry["actor"], "admin", "{entry}");
            assert_eq!(
                entry["details"]["executions"].as_array().map(Vec::len),
                Some(3)
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no audit entry for the purge: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The CLI does the same with only the config file.
    let more = run(&app, "acme", "company.team/writer", json!({})).await;
    let more = more["id"].as_str().expect("id").to_owned();
    let (ok, stdout, stderr) = app
        .cli(&[
            "executions",
            "purge",
            "--tenant",
            "acme",
            "--before",
            &future,
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("purged 1 executions"), "{stdout}");
    let (status, _) = app.get(&format!("/api/v1/acme/executions/{more}")).await;
    assert_eq!(status, 404);
    let (ok, _, stderr) = app
        .cli(&[
            "executions",
            "purge",
            "--tenant",
            "acme",
            "--before",
            "soon",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("--before soon"), "{stderr}");
}

#[tokio::test]
async fn a_flow_revision_is_stored_once_however_many_executions_run_it() {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", WRITER).await;
    for _ in 0..3 {
        let done = run(&app, "acme", "company.team/writer", json!({})).await;
        assert_eq!(done["state"]["current"], "SUCCESS", "{done}");
    }
    let db = Database::connect(app.config.execution_database_url().as_str())
        .await
        .expect("execution database");
    let backend = db.get_database_backend();
    let txn = db.begin().await.expect("begin");
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            backend,
            "SELECT set_config('aerie.tenant', 'acme', true)",
        ))
        .await
        .expect("tenant");
    }
    let count = |sql: &'static str| {
        let txn = &txn;
        async move {
            let row = txn
                .query_one_raw(Statement::from_string(backend, sql))
                .await
                .expect("count")
                .expect("a row");
            row.try_get_by_index::<i64>(0).expect("a number")
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM executions WHERE tenant_id = 'acme'").await,
        3
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM executions WHERE tenant_id = 'acme' AND flow_source <> ''")
            .await,
        0,
        "no execution row carries the source"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM flow_sources WHERE tenant_id = 'acme'").await,
        1,
        "one revision, one stored source"
    );
}

//! Kestra's ForEachItem task: a file cut into batches, one subflow
//! execution per batch, all in the execution's own tenant. What a hostile
//! flow meets: another tenant's files and flows are not found, `read()`
//! reaches only the execution's own files and its parent's, the batches
//! count against the tenant's quotas, and a batch refused by the queue
//! waits for room instead of being dropped.

use std::time::Duration;

use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::{create_flow, run, task_run, tenant, wait_until};

/// A flow whose Write task makes a file of `lines` numbered lines and
/// whose ForEachItem hands it to `company.team/per-batch`, `rows` a batch.
fn parent_flow(id: &str, lines: usize, batch: &str) -> String {
    let content: String = (1..=lines).map(|i| format!("item {i}\\n")).collect();
    format!(
        r#"id: {id}
namespace: company.team
tasks:
  - id: make
    type: io.kestra.plugin.core.storage.Write
    content: "{content}"
    extension: .txt
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ outputs.make.uri }}}}"
    batch:
      {batch}
    namespace: company.team
    flowId: per-batch
    inputs:
      items: "{{{{ taskrun.items }}}}"
      iteration: "{{{{ taskrun.iteration }}}}"
"#
    )
}

/// The subflow: gives back its batch's text and number.
const PER_BATCH: &str = r#"id: per-batch
namespace: company.team
inputs:
  - id: items
    type: STRING
  - id: iteration
    type: INT
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.iteration }}:{{ read(inputs.items) | trim }}"
outputs:
  - id: text
    type: STRING
    value: "{{ outputs.show.value }}"
"#;

fn state(execution: &Value) -> &str {
    execution["state"]["current"].as_str().unwrap_or_default()
}

/// The executions of `company.team/per-batch` in `tenant`.
async fn batches(app: &TestApp, tenant: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/{tenant}/executions/search?namespace=company.team&flowId=per-batch&size=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().cloned().unwrap_or_default()
}

async fn file(app: &TestApp, tenant: &str, execution: &str, uri: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/{tenant}/executions/{execution}/file")))
        .query(&[("path", uri)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

async fn error_logs(app: &TestApp, tenant: &str, id: &str) -> String {
    let (status, logs) = app
        .get(&format!("/api/v1/{tenant}/logs/{id}?minLevel=ERROR"))
        .await;
    assert_eq!(status, 200, "{logs}");
    logs.to_string()
}

#[tokio::test]
async fn batches_run_as_subflows_of_the_same_tenant_and_their_outputs_are_gathered() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    // globex has the same names; nothing of acme's may start there.
    for tenant in ["acme", "globex"] {
        create_flow(&app, tenant, PER_BATCH).await;
    }
    create_flow(&app, "acme", &parent_flow("split", 10, "rows: 3")).await;

    let parent = run(&app, "acme", "company.team/split", json!({})).await;
    let parent_id = parent["id"].as_str().expect("id").to_owned();
    assert_eq!(state(&parent), "SUCCESS", "{parent}");
    let runs: Vec<&str> = parent["taskRunList"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["taskId"].as_str())
        .collect();
    assert_eq!(
        runs,
        ["make", "each", "each_split", "each_items", "each_merge"]
    );
    let items = &task_run(&parent, "each_items")["outputs"];
    assert_eq!(items["numberOfBatches"], 4, "{items}");
    assert_eq!(
        items["iterations"],
        json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 4})
    );

    let children = batches(&app, "acme").await;
    assert_eq!(children.len(), 4);
    for child in &children {
        assert_eq!(state(child), "SUCCESS", "{child}");
        assert_eq!(child["labels"]["system.correlationId"], parent_id.as_str());
        assert_eq!(
            child["trigger"]["variables"]["executionId"],
            parent_id.as_str()
        );
    }
    assert!(batches(&app, "globex").await.is_empty());

    // One line per batch, in batch order, each batch's rows in it.
    let merged = task_run(&parent, "each_merge")["outputs"]["subflowOutputs"]
        .as_str()
        .expect("subflowOutputs")
        .to_owned();
    let lines: Vec<Value> = file(&app, "acme", &parent_id, &merged)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines,
        [
            json!({"text": "1:item 1\nitem 2\nitem 3"}),
            json!({"text": "2:item 4\nitem 5\nitem 6"}),
            json!({"text": "3:item 7\nitem 8\nitem 9"}),
            json!({"text": "4:item 10"}),
        ]
    );

    // Partitions deal the rows out; bytes fill each batch to a size.
    create_flow(&app, "acme", &parent_flow("dealt", 5, "partitions: 2")).await;
    let dealt = run(&app, "acme", "company.team/dealt", json!({})).await;
    assert_eq!(state(&dealt), "SUCCESS", "{dealt}");
    assert_eq!(
        task_run(&dealt, "each_items")["outputs"]["numberOfBatches"],
        2
    );
    create_flow(&app, "acme", &parent_flow("sized", 6, "bytes: 14B")).await;
    let sized = run(&app, "acme", "company.team/sized", json!({})).await;
    assert_eq!(state(&sized), "SUCCESS", "{sized}");
    assert_eq!(
        task_run(&sized, "each_items")["outputs"]["numberOfBatches"],
        3
    );
}

#[tokio::test]
async fn another_tenants_file_and_another_executions_file_are_out_of_reach() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create_flow(&app, "acme", PER_BATCH).await;
    // globex writes a file; its URI is handed to acme's flows.
    let writer = "id: writer\nnamespace: company.team\ntasks:\n  - id: make\n    type: io.kestra.plugin.core.storage.Write\n    content: secret rows\n";
    create_flow(&app, "globex", writer).await;
    let written = run(&app, "globex", "company.team/writer", json!({})).await;
    let uri = task_run(&written, "make")["outputs"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();

    let across = format!(
        "id: across\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: \"{uri}\"\n    namespace: company.team\n    flowId: per-batch\n    inputs:\n      items: \"{{{{ taskrun.items }}}}\"\n      iteration: 1\n"
    );
    create_flow(&app, "acme", &across).await;
    let refused = run(&app, "acme", "company.team/across", json!({})).await;
    assert_eq!(state(&refused), "FAILED", "{refused}");
    let logs = error_logs(&app, "acme", refused["id"].as_str().expect("id")).await;
    assert!(
        logs.contains(
            "an execution reads only its own files and those of the execution that started it"
        ),
        "{logs}"
    );
    assert!(batches(&app, "acme").await.is_empty());

    // read() of a file of another execution (of the same tenant) is
    // refused, and so is a ForEachItem over one.
    create_flow(&app, "acme", writer).await;
    let own = run(&app, "acme", "company.team/writer", json!({})).await;
    let own_uri = task_run(&own, "make")["outputs"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let (status, body) = app
        .yaml(
            reqwest::Method::PUT,
            "/api/v1/acme/flows/company.team/across",
            &app.admin,
            &across.replace(&uri, &own_uri),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let refused = run(&app, "acme", "company.team/across", json!({})).await;
    assert_eq!(state(&refused), "FAILED", "{refused}");
    let logs = error_logs(&app, "acme", refused["id"].as_str().expect("id")).await;
    assert!(logs.contains("reads only its own files"), "{logs}");
    assert!(batches(&app, "acme").await.is_empty());
    for (target, expected) in [
        (
            own_uri.as_str(),
            "reads only its own files and those of the execution that started it",
        ),
        (uri.as_str(), "reads only its own files"),
    ] {
        let reader = format!(
            "id: reader\nnamespace: company.team\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read('{target}') }}}}\"\n"
        );
        let (status, body) = app
            .yaml(
                reqwest::Method::PUT,
                "/api/v1/acme/flows/company.team/reader",
                &app.admin,
                &reader,
            )
            .await;
        if status == 404 {
            create_flow(&app, "acme", &reader).await;
        } else {
            assert_eq!(status, 200, "{body}");
        }
        let read = run(&app, "acme", "company.team/reader", json!({})).await;
        assert_eq!(state(&read), "FAILED", "{read}");
        let logs = error_logs(&app, "acme", read["id"].as_str().expect("id")).await;
        assert!(logs.contains(expected), "{logs}");
        assert!(!read.to_string().contains("secret rows"));
    }
}

#[tokio::test]
async fn batches_count_against_the_tenants_quotas_and_wait_for_room_in_its_queue() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    // Each tenant's quotas are set before it runs anything (they are
    // cached once read).
    for tenant_id in ["acme", "initech"] {
        tenant(&app, tenant_id).await;
        create_flow(&app, tenant_id, PER_BATCH).await;
        create_flow(&app, tenant_id, &parent_flow("many", 6, "rows: 1")).await;
    }
    let quotas = |tenant: &'static str, body: Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::PUT,
                &format!("/api/v1/tenants/{tenant}/quotas"),
                Some(&app.admin),
                Some(body),
            )
            .await
        }
    };

    // More batches than the tenant's foreach-items quota: refused by name.
    let (status, body) = quotas("acme", json!({"foreachItems": 5})).await;
    assert_eq!(status, 200, "{body}");
    let refused = run(&app, "acme", "company.team/many", json!({})).await;
    assert_eq!(state(&refused), "FAILED", "{refused}");
    let logs = error_logs(&app, "acme", refused["id"].as_str().expect("id")).await;
    assert!(
        logs.contains(
            "ForEachItem over 6 batches, more than the tenant's quota of 5 (quota foreach-items)"
        ),
        "{logs}"
    );
    assert!(batches(&app, "acme").await.is_empty());

    // A queue of two: the six batches go through it two at a time, none
    // dropped, and the loop ends once all six have.
    // One running at a time: the batches queue up behind it for sure,
    // however fast the workers are.
    let (status, body) = quotas(
        "initech",
        json!({"queuedExecutions": 2, "runningExecutions": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, started) = app
        .post("/api/v1/initech/executions/company.team/many", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id");
    let ended = wait_until(&app, "initech", id, Duration::from_secs(60), |e| {
        ["SUCCESS", "FAILED"].contains(&state(e))
    })
    .await;
    let logs = error_logs(&app, "initech", id).await;
    assert_eq!(state(&ended), "SUCCESS", "{logs} {ended}");
    let items = &task_run(&ended, "each_items")["outputs"];
    assert_eq!(items["iterations"]["SUCCESS"], 6, "{items}");
    let (_, all) = app.get(&format!("/api/v1/initech/logs/{id}")).await;
    assert!(
        all.to_string()
            .contains("waits: 'initech' has 2 executions waiting for a worker"),
        "the queue was full at least once: {all}"
    );
    let children = batches(&app, "initech").await;
    assert_eq!(children.len(), 6);
    assert!(children.iter().all(|c| state(c) == "SUCCESS"));
}

#[tokio::test]
async fn a_for_each_item_is_checked_when_the_flow_is_saved() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let cases = [
        (
            "rows: 2\n      bytes: 1MB",
            "batch takes one of rows, partitions or bytes",
        ),
        ("rows: 0", "rows must be a whole number, 1 or more"),
        ("bytes: lots", "bytes must be a size such as 512KB or 10MB"),
        ("lines: 3", "unknown property 'lines'"),
    ];
    for (batch, message) in cases {
        let (status, body) = app
            .yaml(
                reqwest::Method::POST,
                "/api/v1/acme/flows",
                &app.admin,
                &parent_flow("checked", 3, batch),
            )
            .await;
        assert_eq!(status, 422, "{batch}: {body}");
        assert!(body.to_string().contains(message), "{batch}: {body}");
    }
    // Its inner task runs take ids: a task of the same id is refused.
    let clash = parent_flow("clash", 3, "rows: 1").replace("id: make", "id: each_split");
    let clash = clash.replace("outputs.make.uri", "outputs.each_split.uri");
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            &clash,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("task id 'each_split'"), "{body}");
    // Kestra's scheduleDate is refused by name, not ignored.
    let scheduled = parent_flow("later", 3, "rows: 1").replace(
        "    flowId: per-batch\n",
        "    flowId: per-batch\n    scheduleDate: \"2030-01-01T00:00:00Z\"\n",
    );
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            &scheduled,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("'scheduleDate'"), "{body}");
}

#[tokio::test]
async fn killing_the_parent_kills_its_running_batches() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let sleeper = PER_BATCH.replace(
        "  - id: show\n",
        "  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n  - id: show\n",
    );
    create_flow(&app, "acme", &sleeper).await;
    create_flow(&app, "acme", &parent_flow("sleepy", 3, "rows: 1")).await;
    let (status, started) = app
        .post("/api/v1/acme/executions/company.team/sleepy", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while batches(&app, "acme").await.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "the batches started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = crate::executions::kill(&app, "acme", &id).await;
    assert_eq!(state(&killed), "KILLED", "{killed}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let children = batches(&app, "acme").await;
        if children.iter().all(|c| state(c) == "KILLED") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "every batch is killed: {children:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_restarted_loop_runs_its_batches_again() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    // The subflow fails until the KV key `fixed` exists.
    let fragile = PER_BATCH.replace(
        "  - id: show\n",
        "  - id: gate\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ kv('fixed') == null }}\"\n  - id: show\n",
    );
    create_flow(&app, "acme", &fragile).await;
    create_flow(&app, "acme", &parent_flow("again", 3, "rows: 1")).await;
    let failed = run(&app, "acme", "company.team/again", json!({})).await;
    assert_eq!(state(&failed), "FAILED", "{failed}");
    let id = failed["id"].as_str().expect("id").to_owned();
    let logs = error_logs(&app, "acme", &id).await;
    assert!(logs.contains("of 3 batches, 3 FAILED"), "{logs}");

    let response = app
        .client
        .put(app.url("/api/v1/acme/namespaces/company.team/kv/fixed"))
        .bearer_auth(&app.admin)
        .body("true")
        .send()
        .await
        .expect("kv");
    assert_eq!(response.status(), 200);
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/restart"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let ended = wait_until(&app, "acme", &id, Duration::from_secs(30), |e| {
        ["SUCCESS", "FAILED"].contains(&state(e))
    })
    .await;
    assert_eq!(state(&ended), "SUCCESS", "{ended}");
    let items = &task_run(&ended, "each_items")["outputs"];
    assert_eq!(items["iterations"]["SUCCESS"], 3, "{items}");
    assert_eq!(batches(&app, "acme").await.len(), 6, "three new batches");
}

#[tokio::test]
async fn a_killed_tree_of_loops_stops_growing() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    // Each execution starts three of itself, ten levels deep at most.
    let recursive = "id: rec\nnamespace: company.team\ntasks:\n  - id: make\n    type: io.kestra.plugin.core.storage.Write\n    content: \"1\\n2\\n3\\n\"\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: \"{{ outputs.make.uri }}\"\n    namespace: company.team\n    flowId: rec\n";
    create_flow(&app, "acme", recursive).await;
    let (status, root) = app
        .post("/api/v1/acme/executions/company.team/rec", json!({}))
        .await;
    assert_eq!(status, 200, "{root}");
    let root = root["id"].as_str().expect("id").to_owned();
    let count = || async {
        let (_, found) = app
            .get("/api/v1/acme/executions/search?namespace=company.team&flowId=rec&size=1")
            .await;
        found["total"].as_u64().unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count().await < 40 {
        assert!(std::time::Instant::now() < deadline, "the tree grew");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    crate::executions::kill(&app, "acme", &root).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = count().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count().await, settled, "nothing starts under a killed root");
}

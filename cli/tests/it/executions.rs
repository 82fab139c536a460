//! Executions end to end: flows run through the gateway and gRPC, in their
//! own tenant, with every core task, templates, inputs, kill and restart,
//! logs, files and webhooks; and what tenant B can see of tenant A (nothing).

use std::time::{Duration, Instant};

use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use aerie_proto::execution::v1::webhook_service_client::WebhookServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

use crate::app::{Mode, TestApp, call};

/// Creates a tenant whose Admin role the super admin holds.
pub async fn tenant(app: &TestApp, id: &str) {
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": id, "name": id, "adminUsername": "admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

pub async fn create_flow(app: &TestApp, tenant: &str, source: &str) {
    let (status, body) = app
        .yaml(
            Method::POST,
            &format!("/api/v1/{tenant}/flows"),
            &app.admin,
            source,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Starts a flow with `inputs` and waits for its end.
pub async fn run(app: &TestApp, tenant: &str, flow: &str, inputs: Value) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/{tenant}/executions/{flow}?wait=true"),
            inputs,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Asks for an execution to be killed (202) and waits until it is KILLED.
pub async fn kill(app: &TestApp, tenant: &str, id: &str) -> Value {
    // 409 says the execution changed under the kill (a worker pausing it
    // at that moment): the API asks the caller to try again.
    let mut tries = 0;
    let response = loop {
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/{tenant}/executions/{id}/kill")))
            .bearer_auth(&app.admin)
            .send()
            .await
            .expect("kill");
        tries += 1;
        if response.status() != 409 || tries == 5 {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = response.status();
    assert_eq!(status, 202, "{}", response.text().await.unwrap_or_default());
    wait_until(app, tenant, id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "KILLED"
    })
    .await
}

/// Polls an execution until `done` holds for it.
pub async fn wait_until(
    app: &TestApp,
    tenant: &str,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = app.get(&format!("/api/v1/{tenant}/executions/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "execution never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state(execution: &Value) -> &str {
    execution["state"]["current"].as_str().unwrap_or_default()
}

pub fn task_run<'a>(execution: &'a Value, task_id: &str) -> &'a Value {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == task_id))
        .unwrap_or_else(|| panic!("no task run of {task_id}: {execution}"))
}

pub fn history(value: &Value) -> Vec<String> {
    value["state"]["histories"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|e| e["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn date_of(run: &Value, state: &str) -> chrono::DateTime<chrono::Utc> {
    let date = run["state"]["histories"]
        .as_array()
        .and_then(|h| h.iter().find(|e| e["state"] == state))
        .and_then(|e| e["date"].as_str())
        .unwrap_or_else(|| panic!("no {state} in {run}"));
    chrono::DateTime::parse_from_rfc3339(date)
        .expect("date")
        .to_utc()
}

const EVERYTHING: &str = r#"id: everything
namespace: company.team
variables:
  greeting: Hello
inputs:
  - id: user
    type: STRING
    defaults: world
  - id: count
    type: INT
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.greeting }} {{ inputs.user }} from {{ flow.namespace }}, token {{ secret('API_TOKEN') }}"
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.count * 2 }}-{{ execution.id }}"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      doubled: "{{ outputs.hello.value }}"
      region: "{{ kv('region') }}"
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
      - id: right
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.count > 1 }}"
    then:
      - id: big
        type: io.kestra.plugin.core.debug.Return
        format: big
    else:
      - id: small
        type: io.kestra.plugin.core.debug.Return
        format: small
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "item {{ taskrun.value }}"
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: remember
        type: io.kestra.plugin.core.kv.Set
        key: last_user
        value: "{{ inputs.user }}"
      - id: recall
        type: io.kestra.plugin.core.kv.Get
        key: last_user
  - id: soft_fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "tolerated"
    allowFailure: true
  - id: skipped_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.count > 100 }}"
  - id: file
    type: io.kestra.plugin.core.storage.Write
    content: "report for {{ inputs.user }}"
    extension: .txt
outputs:
  - id: summary
    type: STRING
    value: "{{ outputs.recall.value }}/{{ outputs.big.value }}"
"#;

#[tokio::test]
async fn every_core_task_and_template_runs_in_its_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/API_TOKEN",
            json!({"value": "tok-3f9a-very-secret"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .client
        .put(app.url("/api/v1/acme/namespaces/company.team/kv/region"))
        .bearer_auth(&app.admin)
        .body("\"eu-west\"")
        .send()
        .await
        .expect("kv");
    assert_eq!(response.status(), 200);
    create_flow(&app, "acme", EVERYTHING).await;

    let execution = run(
        &app,
        "acme",
        "company.team/everything",
        json!({"user": "ann", "count": "3"}),
    )
    .await;
    // One task was allowed to fail: the execution ends WARNING.
    assert_eq!(state(&execution), "WARNING", "{execution}");
    assert_eq!(history(&execution), ["CREATED", "RUNNING", "WARNING"]);
    assert_eq!(execution["tenantId"], "acme");
    assert_eq!(execution["inputs"], json!({"user": "ann", "count": 3}));
    let id = execution["id"].as_str().expect("id").to_owned();

    assert_eq!(
        task_run(&execution, "hello")["outputs"]["value"],
        format!("6-{id}")
    );
    assert_eq!(
        task_run(&execution, "values")["outputs"]["values"],
        json!({"doubled": format!("6-{id}"), "region": "eu-west"})
    );
    // Parallel: both sleeps were running before either ended.
    let (left, right) = (task_run(&execution, "left"), task_run(&execution, "right"));
    assert!(date_of(left, "RUNNING") < date_of(right, "SUCCESS"));
    assert!(date_of(right, "RUNNING") < date_of(left, "SUCCESS"));
    assert_eq!(
        task_run(&execution, "branch")["outputs"]["evaluationResult"],
        true
    );
    assert_eq!(task_run(&execution, "big")["outputs"]["value"], "big");
    assert!(
        execution["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["taskId"] != "small"),
        "the else branch did not run"
    );
    let items: Vec<_> = execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskId"] == "item")
        .map(|r| (r["value"].clone(), r["outputs"]["value"].clone()))
        .collect();
    assert_eq!(
        items,
        [
            (json!("a"), json!("item a")),
            (json!("b"), json!("item b")),
            (json!("c"), json!("item c"))
        ]
    );
    assert_eq!(task_run(&execution, "recall")["outputs"]["value"], "ann");
    assert_eq!(
        task_run(&execution, "soft_fail")["state"]["current"],
        "WARNING"
    );
    assert_eq!(
        task_run(&execution, "skipped_fail")["state"]["current"],
        "SUCCESS"
    );
    assert_eq!(execution["outputs"], json!({"summary": "ann/big"}));
    // kv.Set wrote into the execution's own tenant and namespace.
    let (status, kv) = app
        .get("/api/v1/acme/namespaces/company.team/kv/last_user")
        .await;
    assert_eq!((status, kv["value"].clone()), (200, json!("ann")), "{kv}");

    // Logs: the secret is masked, levels filter.
    let (status, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert_eq!(status, 200, "{logs}");
    let text = logs.to_string();
    assert!(
        text.contains("Hello ann from company.team, token ******"),
        "{text}"
    );
    assert!(
        !text.contains("tok-3f9a-very-secret"),
        "secret leaked into logs"
    );
    assert!(text.contains("tolerated"), "{text}");
    let (_, errors) = app
        .get(&format!("/api/v1/acme/logs/{id}?minLevel=ERROR"))
        .await;
    let errors = errors.as_array().expect("lines");
    assert!(
        !errors.is_empty() && errors.iter().all(|l| l["level"] == "ERROR"),
        "{errors:?}"
    );
    let (status, _) = app
        .get(&format!("/api/v1/acme/logs/{id}?minLevel=LOUD"))
        .await;
    assert_eq!(status, 422);

    // The written file is downloadable through the gateway.
    let uri = task_run(&execution, "file")["outputs"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    assert!(
        uri.starts_with(&format!(
            "kestra:///company/team/everything/executions/{id}/"
        )),
        "{uri}"
    );
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
        .query(&[("path", uri.as_str())])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "report for ann");

    // Search finds it, newest first, by namespace, flow and state.
    let (status, page) = app
        .get("/api/v1/acme/executions/search?namespace=company&flowId=everything&state=WARNING")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["results"][0]["id"], id.as_str());
    let (_, none) = app.get("/api/v1/acme/executions/search?state=FAILED").await;
    assert_eq!(none["total"], 0);
}

#[tokio::test]
async fn inputs_are_checked_and_files_are_uploaded() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        r#"id: typed
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: when
    type: DATETIME
    required: false
  - id: ratio
    type: FLOAT
    defaults: 0.5
  - id: flag
    type: BOOLEAN
    defaults: false
  - id: doc
    type: JSON
    required: false
  - id: upload
    type: FILE
    required: false
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} {{ inputs.ratio }} {{ inputs.flag }}"
"#,
    )
    .await;
    let path = "/api/v1/acme/executions/company.team/typed";
    let (status, body) = app.post(path, json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("input 'name' is required"),
        "{body}"
    );
    let (status, body) = app
        .post(
            path,
            json!({"name": "x", "when": "yesterday", "ratio": "lots", "flag": "maybe", "doc": "{", "other": 1}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let message = body["message"].as_str().unwrap();
    for expected in [
        "input 'when'",
        "input 'ratio'",
        "input 'flag'",
        "input 'doc'",
        "unknown input 'other'",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.admin)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let (status, body) = app.post(path, json!(["not", "an", "object"])).await;
    assert_eq!(status, 422, "{body}");
    // Nothing was accepted by any of those.
    let (_, page) = app.get("/api/v1/acme/executions/search").await;
    assert_eq!(page["total"], 0, "{page}");
    let (status, _) = app
        .post("/api/v1/acme/executions/company.team/nope", json!({}))
        .await;
    assert_eq!(status, 404);

    // Multipart: fields are values, files are FILE inputs in internal storage.
    let form = reqwest::multipart::Form::new()
        .text("name", "form")
        .text("flag", "true")
        .text("doc", r#"{"k": [1, 2]}"#)
        .part(
            "upload",
            reqwest::multipart::Part::bytes(b"uploaded bytes".to_vec())
                .file_name("../../report.csv"),
        );
    let (status, execution) = app.post_form(&format!("{path}?wait=true"), form).await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(state(&execution), "SUCCESS", "{execution}");
    assert_eq!(
        task_run(&execution, "show")["outputs"]["value"],
        "form 0.5 true"
    );
    assert_eq!(execution["inputs"]["doc"], json!({"k": [1, 2]}));
    let uri = execution["inputs"]["upload"].as_str().expect("file uri");
    let id = execution["id"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("kestra:///company/team/typed/executions/{id}/inputs/upload/report.csv")
    );
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
        .query(&[("path", uri)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("report.csv")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"uploaded bytes");

    // Files above gRPC's default 4 MiB message go through both ways.
    let big: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let form = reqwest::multipart::Form::new().text("name", "big").part(
        "upload",
        reqwest::multipart::Part::bytes(big.clone()).file_name("big.bin"),
    );
    let (status, execution) = app.post_form(&format!("{path}?wait=true"), form).await;
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
        .query(&[("path", execution["inputs"]["upload"].as_str().unwrap())])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.unwrap().as_ref() == big.as_slice(),
        "the 6 MiB file came back whole"
    );
}

#[tokio::test]
async fn kill_stops_at_once_and_restart_resumes_from_the_failed_task() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: slow\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: never\n",
    )
    .await;
    let (status, started) = app
        .post("/api/v1/acme/executions/company.team/slow", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["taskRunList"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    let asked = Instant::now();
    let (status, killing) = app
        .delete(&format!("/api/v1/acme/executions/{id}/kill"))
        .await;
    assert_eq!(status, 202, "{killing}");
    let killed = wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        state(e) == "KILLED"
    })
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "a Sleep ends at once when killed"
    );
    assert_eq!(
        history(&killed),
        ["CREATED", "RUNNING", "KILLING", "KILLED"]
    );
    assert_eq!(task_run(&killed, "nap")["state"]["current"], "KILLED");
    assert!(
        killed["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["taskId"] != "after")
    );
    let (status, body) = app
        .delete(&format!("/api/v1/acme/executions/{id}/kill"))
        .await;
    assert_eq!(status, 400, "an ended execution cannot be killed: {body}");

    // A flow failing on a gate held in KV; restarted once the gate opens.
    let put_gate = |value: &'static str| {
        let request = app
            .client
            .put(app.url("/api/v1/acme/namespaces/company.team/kv/gate"))
            .bearer_auth(&app.admin)
            .body(format!("\"{value}\""));
        async move { assert_eq!(request.send().await.expect("kv").status(), 200) }
    };
    put_gate("closed").await;
    create_flow(
        &app,
        "acme",
        "id: gated\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ execution.id }}\"\n  - id: gate\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ kv('gate') != 'open' }}\"\n    errorMessage: gate is closed\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: done\n",
    )
    .await;
    let failed = run(&app, "acme", "company.team/gated", json!({})).await;
    assert_eq!(state(&failed), "FAILED", "{failed}");
    let id = failed["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/restart"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let again = wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        state(e) == "FAILED" && history(e).len() > 4
    })
    .await;
    assert_eq!(task_run(&again, "gate")["attempts"], 2);
    put_gate("open").await;
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/restart"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let done = wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        state(e) == "SUCCESS"
    })
    .await;
    assert_eq!(
        history(&done),
        [
            "CREATED",
            "RUNNING",
            "FAILED",
            "RESTARTED",
            "RUNNING",
            "FAILED",
            "RESTARTED",
            "RUNNING",
            "SUCCESS"
        ]
    );
    assert_eq!(
        task_run(&done, "first")["attempts"],
        1,
        "what succeeded is kept"
    );
    assert_eq!(task_run(&done, "gate")["attempts"], 3);
    assert_eq!(task_run(&done, "last")["outputs"]["value"], "done");
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/restart"), json!({}))
        .await;
    assert_eq!(
        status, 400,
        "only failed or killed executions restart: {body}"
    );

    // Creating, killing and restarting are audited.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = app.get("/api/v1/acme/auditlogs/search?size=100").await;
        let operations: Vec<String> = log["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resourceType"] == "EXECUTION")
            .map(|e| {
                format!(
                    "{}:{}",
                    e["action"].as_str().unwrap(),
                    e["details"]["operation"].as_str().unwrap_or("")
                )
            })
            .collect();
        let has = |op: &str| operations.iter().any(|o| o == op);
        if has("CREATE:") && has("UPDATE:KILL") && has("UPDATE:RESTART") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "execution audit entries missing: {operations:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn follow_streams_changes_until_the_end() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: steps\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.3S\n  - id: b\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.3S\n",
    )
    .await;
    let (_, started) = app
        .post("/api/v1/acme/executions/company.team/steps", json!({}))
        .await;
    let id = started["id"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/follow")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("follow");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The stream ends by itself once the execution has ended.
    let text = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("stream ends")
        .expect("body");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim()).expect("json event"))
        .collect();
    assert!(events.len() >= 3, "several changes were streamed: {text}");
    assert_eq!(state(events.last().unwrap()), "SUCCESS");

    // gRPC: the same stream.
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let mut stream = client
        .follow_execution(call(
            pb::FollowExecutionRequest { id: id.to_owned() },
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("follow")
        .into_inner();
    let last = stream.message().await.expect("message").expect("one");
    assert_eq!(
        last.state.unwrap().current,
        pb::ExecutionState::Success as i32
    );
    assert!(stream.message().await.expect("end").is_none());
}

#[tokio::test]
async fn webhooks_start_their_tenants_flow_only() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let hooked = |key: &str, word: &str| {
        format!(
            "id: hooked\nnamespace: company.team\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{word} {{{{ trigger.body.name }}}} {{{{ trigger.parameters.source[0] }}}}\"\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: {key}\n"
        )
    };
    create_flow(&app, "acme", &hooked("acme-key-123", "acme")).await;
    create_flow(&app, "globex", &hooked("globex-key-456", "globex")).await;
    let hook = |tenant: &str, key: &str| {
        app.client
            .post(app.url(&format!(
                "/api/v1/{tenant}/executions/webhook/company.team/hooked/{key}?wait=true&source=ci"
            )))
            .json(&json!({"name": "push"}))
    };
    // No token needed: the key is the credential.
    let (status, execution) =
        crate::app::read(hook("acme", "acme-key-123").send().await.unwrap()).await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(state(&execution), "SUCCESS");
    assert_eq!(
        task_run(&execution, "echo")["outputs"]["value"],
        "acme push ci"
    );
    assert_eq!(execution["trigger"]["id"], "hook");
    // A's key on B's flow of the same namespace and id, and B's on A's: 404.
    for (tenant, key) in [
        ("globex", "acme-key-123"),
        ("acme", "globex-key-456"),
        ("acme", "wrong"),
        ("nowhere", "acme-key-123"),
    ] {
        let (status, body) = crate::app::read(hook(tenant, key).send().await.unwrap()).await;
        assert_eq!(status, 404, "{tenant} with {key}: {body}");
    }
    let (_, page) = app.get("/api/v1/globex/executions/search").await;
    assert_eq!(page["total"], 0, "globex's flow never ran: {page}");
    let (_, page) = app.get("/api/v1/acme/executions/search").await;
    assert_eq!(page["total"], 1, "{page}");
    // Straight to the service, with a spoofed tenant header.
    let mut webhooks = WebhookServiceClient::new(app.channel().await);
    let spoofed = webhooks
        .trigger_webhook(call(
            pb::TriggerWebhookRequest {
                namespace: "company.team".into(),
                flow_id: "hooked".into(),
                key: "acme-key-123".into(),
                ..Default::default()
            },
            None,
            Some("globex"),
        ))
        .await
        .expect_err("A's key in B");
    assert_eq!(spoofed.code(), Code::NotFound);
    // Same namespace, flow id and revision in both tenants: each runs its
    // own source, though the executor has remembered acme's.
    for (tenant, key, word) in [
        ("globex", "globex-key-456", "globex"),
        ("acme", "acme-key-123", "acme"),
        ("globex", "globex-key-456", "globex"),
    ] {
        let (status, execution) = crate::app::read(hook(tenant, key).send().await.unwrap()).await;
        assert_eq!(status, 200, "{execution}");
        assert_eq!(
            task_run(&execution, "echo")["outputs"]["value"],
            format!("{word} push ci"),
            "{tenant}"
        );
    }
}

#[tokio::test]
async fn tenant_b_sees_nothing_of_tenant_a() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    create_flow(
        &app,
        "acme",
        "id: private\nnamespace: company.team\ntasks:\n  - id: note\n    type: io.kestra.plugin.core.log.Log\n    message: acme internal note\n  - id: file\n    type: io.kestra.plugin.core.storage.Write\n    content: acme confidential\n",
    )
    .await;
    let execution = run(&app, "acme", "company.team/private", json!({})).await;
    assert_eq!(state(&execution), "SUCCESS");
    let id = execution["id"].as_str().unwrap().to_owned();
    let uri = task_run(&execution, "file")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();

    // Through the gateway, in A's URL and in B's own.
    for prefix in ["/api/v1/acme", "/api/v1/globex"] {
        for (method, path) in [
            (Method::GET, format!("{prefix}/executions/{id}")),
            (Method::GET, format!("{prefix}/logs/{id}")),
            (
                Method::GET,
                format!("{prefix}/executions/{id}/file?path={uri}"),
            ),
            (Method::GET, format!("{prefix}/executions/{id}/follow")),
            (Method::DELETE, format!("{prefix}/executions/{id}/kill")),
            (Method::POST, format!("{prefix}/executions/{id}/restart")),
            (
                Method::POST,
                format!("{prefix}/executions/company.team/private"),
            ),
        ] {
            let (status, body) = app.send(method.clone(), &path, Some(&bob), None).await;
            assert!(
                matches!(status, 403 | 404),
                "{method} {path}: {status} {body}"
            );
            assert!(
                !body.to_string().contains("acme internal")
                    && !body.to_string().contains("confidential")
            );
        }
    }
    let (status, page) = app
        .send(
            Method::GET,
            "/api/v1/globex/executions/search",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!((status, page["total"].clone()), (200, json!(0)), "{page}");

    // Straight to execution-svc with B's token and a spoofed x-aerie-tenant.
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let as_bob = |message| call(message, Some(&bob), Some("acme"));
    let denied = |code: Code| matches!(code, Code::NotFound | Code::PermissionDenied);
    let err = client
        .get_execution(as_bob(pb::GetExecutionRequest { id: id.clone() }))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .list_logs(call(
            pb::ListLogsRequest {
                execution_id: id.clone(),
                min_level: pb::LogLevel::Unspecified as i32,
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .get_execution_file(call(
            pb::GetExecutionFileRequest {
                id: id.clone(),
                path: uri.clone(),
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .kill_execution(call(
            pb::KillExecutionRequest { id: id.clone() },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .restart_execution(call(
            pb::RestartExecutionRequest { id: id.clone() },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .follow_execution(call(
            pb::FollowExecutionRequest { id: id.clone() },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .search_executions(call(
            pb::SearchExecutionsRequest::default(),
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .create_execution(call(
            pb::CreateExecutionRequest {
                namespace: "company.team".into(),
                flow_id: "private".into(),
                ..Default::default()
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    // In B's own tenant the id means nothing either.
    let err = client
        .get_execution(call(
            pb::GetExecutionRequest { id: id.clone() },
            Some(&bob),
            Some("globex"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // No token at all.
    let err = client
        .get_execution(call(
            pb::GetExecutionRequest { id: id.clone() },
            None,
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // A's execution is untouched.
    let (_, after) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
    assert_eq!(state(&after), "SUCCESS");
}

#[tokio::test]
async fn storage_paths_cannot_escape_the_execution() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: writer\nnamespace: company.team\ntasks:\n  - id: file\n    type: io.kestra.plugin.core.storage.Write\n    content: mine\n",
    )
    .await;
    let first = run(&app, "acme", "company.team/writer", json!({})).await;
    let second = run(&app, "acme", "company.team/writer", json!({})).await;
    let id = first["id"].as_str().unwrap();
    let others = task_run(&second, "file")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let folder = format!("kestra:///company/team/writer/executions/{id}");
    for path in [
        format!("{folder}/../../../../../../etc/passwd"),
        format!("{folder}/%2e%2e/%2e%2e/x"),
        format!("{folder}/a%2Fb"),
        format!("{folder}//x"),
        format!("{folder}/..\\..\\x"),
        "/etc/passwd".to_owned(),
        "file:///etc/passwd".to_owned(),
        "kestra://globex/company/team/writer".to_owned(),
        format!("kestra:///_default/company/team/writer/executions/{id}/x"),
        others.clone(),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
            .query(&[("path", path.as_str())])
            .bearer_auth(&app.admin)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        assert!(matches!(status, 404 | 422), "{path}: {status}");
    }
    let (status, _) = app.get("/api/v1/acme/executions/not-a-uuid").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn postgres_row_level_security_covers_executions_task_runs_and_logs() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    if app.execution_db.backend != "postgres" {
        eprintln!(
            "skipped: SQLite has no row-level security; the repository filter is the only line there"
        );
        return;
    }
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let source = "id: logged\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    create_flow(&app, "acme", source).await;
    create_flow(&app, "globex", source).await;
    for t in ["acme", "globex", "globex"] {
        assert_eq!(
            state(&run(&app, t, "company.team/logged", json!({})).await),
            "SUCCESS"
        );
    }
    use sea_orm::Database;
    let db = Database::connect(app.execution_db.url.as_str())
        .await
        .expect("connect");
    for table in ["executions", "task_runs", "execution_logs"] {
        for (tenant, expected) in [(Some("acme"), 1), (Some("globex"), 2), (None, 0)] {
            // A query that forgot its tenant filter.
            let tenants = crate::rls::unfiltered_tenants(&db, tenant, table).await;
            assert_eq!(
                tenants.len(),
                expected,
                "{table} as {tenant:?}: {tenants:?}"
            );
            assert!(
                tenants.iter().all(|t| Some(t.as_str()) == tenant),
                "{table}: {tenants:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_tenant_at_its_running_quota_leaves_workers_to_the_others() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.workers = 4;
        config.tenants.quotas.running_executions = 2;
    })
    .await;
    tenant(&app, "noisy").await;
    tenant(&app, "quiet").await;
    let sleeper = "id: sleeper\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1H\n";
    let hello = "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    create_flow(&app, "noisy", sleeper).await;
    create_flow(&app, "quiet", hello).await;
    let mut noisy = Vec::new();
    for _ in 0..4 {
        let (status, body) = app
            .post("/api/v1/noisy/executions/company.team/sleeper", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        noisy.push(body["id"].as_str().expect("id").to_owned());
    }
    // Two of noisy's run; the other two wait although two workers are idle.
    let deadline = Instant::now() + Duration::from_secs(20);
    let states = loop {
        let mut states = Vec::new();
        for id in &noisy {
            let (_, body) = app.get(&format!("/api/v1/noisy/executions/{id}")).await;
            states.push(state(&body).to_owned());
        }
        if states.iter().filter(|s| *s == "RUNNING").count() == 2 || Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        states.iter().filter(|s| *s == "RUNNING").count(),
        2,
        "{states:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut created = 0;
    for id in &noisy {
        let (_, body) = app.get(&format!("/api/v1/noisy/executions/{id}")).await;
        created += usize::from(state(&body) == "CREATED");
    }
    assert_eq!(created, 2, "noisy ran past its quota");
    // quiet's execution gets a worker at once.
    let execution = run(&app, "quiet", "company.team/hello", json!({})).await;
    assert_eq!(state(&execution), "SUCCESS", "{execution}");
    for id in &noisy {
        app.delete(&format!("/api/v1/noisy/executions/{id}/kill"))
            .await;
    }
}

#[tokio::test]
async fn creating_past_a_tenants_rate_or_queue_quota_is_429_and_creates_nothing() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.executor.workers = 0;
        config.tenants.quotas.executions_per_minute = 3;
        config.tenants.quotas.queued_executions = 2;
    })
    .await;
    tenant(&app, "busy").await;
    tenant(&app, "calm").await;
    let hello = "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: busy-hook-key\n";
    create_flow(&app, "busy", hello).await;
    create_flow(&app, "calm", hello).await;
    let create = |tenant: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url(&format!("/api/v1/{tenant}/executions/company.team/hello")))
                .bearer_auth(&app.admin)
                .json(&json!({}))
                .send()
                .await
                .expect("send");
            let retry_after = response.headers().get("retry-after").cloned();
            let (status, body) = crate::app::read(response).await;
            (status, retry_after, body)
        }
    };
    // Nothing runs (no workers): the third waits past the queue quota.
    for _ in 0..2 {
        let (status, _, body) = create("busy").await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, retry_after, body) = create("busy").await;
    assert_eq!(status, 429, "{body}");
    assert!(retry_after.is_some(), "no Retry-After");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("queued-executions"),
        "{body}"
    );
    // A webhook key holder meets the same quota.
    let response = app
        .client
        .post(app.url("/api/v1/busy/executions/webhook/company.team/hello/busy-hook-key"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    let (_, page) = app.get("/api/v1/busy/executions/search").await;
    assert_eq!(
        page["total"], 2,
        "a refused request created nothing: {page}"
    );
    // The other tenant is not affected.
    for _ in 0..2 {
        let (status, _, body) = create("calm").await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn creating_faster_than_a_tenants_rate_is_429_with_retry_after() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.tenants.quotas.executions_per_minute = 3;
    })
    .await;
    tenant(&app, "fast").await;
    create_flow(
        &app,
        "fast",
        "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .await;
    for _ in 0..3 {
        let (status, body) = app
            .post("/api/v1/fast/executions/company.team/hello", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app
        .client
        .post(app.url("/api/v1/fast/executions/company.team/hello"))
        .bearer_auth(&app.admin)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .expect("Retry-After");
    let (status, body) = crate::app::read(response).await;
    assert_eq!(status, 429, "{body}");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("executions-per-minute"),
        "{body}"
    );
}

#[tokio::test]
async fn foreach_items_and_parallel_branches_past_the_quota_fail_the_task_naming_it() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.tenants.quotas.foreach_items = 5;
        config.tenants.quotas.parallel_branches = 2;
    })
    .await;
    tenant(&app, "acme").await;
    let flow =
        |id: &str, tasks: &str| format!("id: {id}\nnamespace: company.team\ntasks:\n{tasks}");
    let each = |n: usize| {
        let values: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
        format!(
            "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n    values: '[{}]'\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
            values.join(",")
        )
    };
    let branch = |i: usize| {
        format!(
            "      - id: b{i}\n        type: io.kestra.plugin.core.debug.Return\n        format: b\n"
        )
    };
    let parallel = |n: usize| {
        format!(
            "  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{}",
            (0..n).map(branch).collect::<String>()
        )
    };
    for (id, tasks, wanted, quota) in [
        ("each-ok", each(5), "SUCCESS", ""),
        ("each-over", each(6), "FAILED", "foreach-items"),
        ("par-ok", parallel(2), "SUCCESS", ""),
        ("par-over", parallel(3), "FAILED", "parallel-branches"),
    ] {
        create_flow(&app, "acme", &flow(id, &tasks)).await;
        let execution = run(&app, "acme", &format!("company.team/{id}"), json!({})).await;
        assert_eq!(state(&execution), wanted, "{id}: {execution}");
        if !quota.is_empty() {
            let exec_id = execution["id"].as_str().expect("id");
            let (_, logs) = app.get(&format!("/api/v1/acme/logs/{exec_id}")).await;
            assert!(logs.to_string().contains(quota), "{id}: {logs}");
        }
    }
}

/// An integer a double cannot hold (a 64-bit id) keeps every digit on its
/// way through gRPC's Struct to REST, as its decimal string.
#[tokio::test]
async fn integers_beyond_two_to_the_53_keep_their_digits() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: big\nnamespace: company.team\ntasks:\n  - id: ids\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      snowflake: 1790000000000000001\n      small: 42\n",
    )
    .await;
    let execution = run(&app, "acme", "company.team/big", json!({})).await;
    assert_eq!(state(&execution), "SUCCESS", "{execution}");
    assert_eq!(
        task_run(&execution, "ids")["outputs"]["values"],
        json!({"snowflake": "1790000000000000001", "small": 42})
    );
}

#[tokio::test]
async fn log_and_output_quotas_fail_the_task_naming_them() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.tenants.quotas.log_lines_per_execution = 3;
        config.tenants.quotas.output_bytes_per_task_run = 100;
    })
    .await;
    tenant(&app, "acme").await;
    let flows = [
        (
            "chatty",
            "  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: [a, b, c, d, e]\n",
            "log-lines-per-execution",
        ),
        (
            "bulky",
            &format!(
                "  - id: big\n    type: io.kestra.plugin.core.debug.Return\n    format: {}\n",
                "x".repeat(200)
            ),
            "output-bytes-per-task-run",
        ),
        (
            "fine",
            "  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: [a, b]\n  - id: small\n    type: io.kestra.plugin.core.debug.Return\n    format: ok\n",
            "",
        ),
    ];
    for (id, tasks, quota) in flows {
        create_flow(
            &app,
            "acme",
            &format!("id: {id}\nnamespace: company.team\ntasks:\n{tasks}"),
        )
        .await;
        let execution = run(&app, "acme", &format!("company.team/{id}"), json!({})).await;
        let wanted = if quota.is_empty() {
            "SUCCESS"
        } else {
            "FAILED"
        };
        assert_eq!(state(&execution), wanted, "{id}: {execution}");
        if !quota.is_empty() {
            let exec_id = execution["id"].as_str().expect("id");
            let (_, logs) = app.get(&format!("/api/v1/acme/logs/{exec_id}")).await;
            assert!(logs.to_string().contains(quota), "{id}: {logs}");
            assert!(
                !execution.to_string().contains(&"x".repeat(200)),
                "outputs kept past the quota"
            );
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_retries_return_the_first_execution() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let hello = "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let other = "id: other\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    for t in ["acme", "globex"] {
        create_flow(&app, t, hello).await;
    }
    create_flow(&app, "acme", other).await;
    let create = |tenant: &str, flow: &str, key: &str, wait: bool| {
        let request = app
            .client
            .post(app.url(&format!(
                "/api/v1/{tenant}/executions/company.team/{flow}?wait={wait}"
            )))
            .bearer_auth(&app.admin)
            .header("idempotency-key", key)
            .json(&json!({}));
        async move { crate::app::read(request.send().await.expect("send")).await }
    };
    let (status, first) = create("acme", "hello", "order-42", false).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = create("acme", "hello", "order-42", true).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"], "a retry got a new execution");
    assert_eq!(
        state(&again),
        "SUCCESS",
        "the retry waited as asked: {again}"
    );
    let (_, page) = app.get("/api/v1/acme/executions/search").await;
    assert_eq!(page["total"], 1, "{page}");
    // The same key for another flow is a conflict; in another tenant it is
    // another key.
    let (status, body) = create("acme", "other", "order-42", false).await;
    assert_eq!(status, 409, "{body}");
    let (status, theirs) = create("globex", "hello", "order-42", false).await;
    assert_eq!(status, 200, "{theirs}");
    assert_ne!(theirs["id"], first["id"]);
    let (status, body) = create("acme", "hello", &"k".repeat(256), false).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_foreach_over_thousands_of_items_ends_while_other_tenants_are_served() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "big").await;
    tenant(&app, "small").await;
    // 3,000 task runs written at the end in one transaction: more bound
    // values than one SQLite statement takes, and quadratic if each task
    // copied the outputs before it.
    create_flow(
        &app,
        "big",
        "id: each\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ range(3000) | list | tojson }}\"\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.item['2999'].value }}\"\n",
    )
    .await;
    create_flow(
        &app,
        "small",
        "id: hello\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .await;
    let (status, started) = app
        .post("/api/v1/big/executions/company.team/each", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    for _ in 0..3 {
        let other = run(&app, "small", "company.team/hello", json!({})).await;
        assert_eq!(state(&other), "SUCCESS", "{other}");
    }
    let done = wait_until(&app, "big", &id, Duration::from_secs(120), |e| {
        matches!(state(e), "SUCCESS" | "FAILED" | "KILLED")
    })
    .await;
    assert_eq!(state(&done), "SUCCESS", "{}", done["state"]);
    let runs = done["taskRunList"].as_array().expect("task runs");
    assert_eq!(runs.len(), 3002, "each, 3,000 items and last");
    assert_eq!(task_run(&done, "last")["outputs"]["value"], "2999");
}

#[tokio::test]
async fn execution_search_filters_by_creation_date() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: dated\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .await;
    run(&app, "acme", "company.team/dated", json!({})).await;
    run(&app, "acme", "company.team/dated", json!({})).await;
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let total = |query: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .get(&format!("/api/v1/acme/executions/search?{query}"))
                .await;
            assert_eq!(status, 200, "{query}: {body}");
            body["total"].as_u64().expect("total")
        }
    };
    assert_eq!(total(format!("startDate={}", day(0))).await, 2);
    assert_eq!(
        total(format!("endDate={}", day(0))).await,
        2,
        "today included"
    );
    assert_eq!(total(format!("startDate={}", day(1))).await, 0);
    assert_eq!(total(format!("endDate={}", day(-1))).await, 0);
    let now = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let after_now = total(format!("startDate={}", now.replace('+', "%2B"))).await;
    assert_eq!(after_now, 0, "RFC 3339 bounds are instants");
    let (status, body) = app
        .get("/api/v1/acme/executions/search?startDate=last-week")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("startDate"));
}

/// A flow whose Return sits inside `levels` flowable tasks of every kind
/// in turn (ForEach, Parallel, If, Sequential, Switch).
fn nested_flow(id: &str, levels: usize) -> String {
    let mut yaml = format!("id: {id}\nnamespace: company.team\ntasks:\n");
    let mut pad = String::new();
    for level in 0..levels {
        let head = format!("{pad}  - id: l{level}\n{pad}    type: io.kestra.plugin.core.flow.");
        let (kind, list) = match level % 5 {
            0 => ("ForEach\n    values: '[\"a\", \"b\"]'", "tasks:"),
            1 => ("Parallel", "tasks:"),
            2 => ("If\n    condition: \"{{ true }}\"", "then:"),
            3 => ("Sequential", "tasks:"),
            _ => ("Switch\n    value: x", "cases:\n      x:"),
        };
        let kind = kind.replace('\n', &format!("\n{pad}"));
        let list = list.replace('\n', &format!("\n{pad}"));
        yaml.push_str(&format!("{head}{kind}\n{pad}    {list}\n"));
        pad.push_str(if level % 5 == 4 { "      " } else { "    " });
    }
    yaml.push_str(&format!(
        "{pad}  - id: leaf\n{pad}    type: io.kestra.plugin.core.debug.Return\n{pad}    format: \"{{{{ taskrun.value }}}}\"\n"
    ));
    yaml
}

/// Each level of nesting takes room on a worker thread's stack: the
/// deepest flow Aerie accepts runs (in a debug build, on the test's own
/// thread), a deeper one is refused by name, and the server stays up for
/// every tenant (three nested ForEach loops used to abort a debug build).
/// A flowable task past its `timeout` fails, and what ran inside it ends
/// KILLED with it rather than staying RUNNING for ever.
#[tokio::test]
async fn a_parallel_past_its_timeout_fails_and_kills_its_running_branches() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: bounded\nnamespace: company.team\ntasks:\n  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    timeout: PT1S\n    tasks:\n      - id: quick\n        type: io.kestra.plugin.core.debug.Return\n        format: done\n      - id: group\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n          - id: slow\n            type: io.kestra.plugin.core.flow.Sleep\n            duration: PT30S\n",
    )
    .await;
    let execution = run(&app, "acme", "company.team/bounded", json!({})).await;
    assert_eq!(state(&execution), "FAILED", "{execution}");
    let state_of = |task: &str| task_run(&execution, task)["state"]["current"].clone();
    assert_eq!(state_of("both"), "FAILED", "{execution}");
    assert_eq!(state_of("quick"), "SUCCESS", "{execution}");
    assert_eq!(state_of("group"), "KILLED", "{execution}");
    assert_eq!(state_of("slow"), "KILLED", "{execution}");
}

#[tokio::test]
async fn the_deepest_flow_allowed_runs_and_a_deeper_one_is_refused() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", &nested_flow("deepest", 10)).await;
    let done = run(&app, "acme", "company.team/deepest", json!({})).await;
    assert_eq!(state(&done), "SUCCESS", "{done}");
    // Two ForEach values: each of the four leaves per value ran.
    let leaves = done["taskRunList"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["taskId"] == "leaf")
        .count();
    assert_eq!(leaves, 4, "{done}");
    let (status, body) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            &nested_flow("deeper", 11),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nested more than 10 flowable tasks deep"),
        "{body}"
    );
    let (status, _) = app.get("/health").await;
    assert_eq!(status, 200);
}

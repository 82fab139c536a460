//! Kestra's Subflow task: a child execution in the same tenant, its inputs,
//! labels and outputs as Kestra's tests expect, failures passed on (or
//! not), retries, kills that reach the children, and the rules a hostile
//! flow meets: another namespace only when it allows it, another tenant
//! never, and no endless chain of a flow calling itself.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::{create_flow, run, task_run, tenant, wait_until};

const SUBFLOW: &str = "io.kestra.plugin.core.flow.Subflow";

fn flow(namespace: &str, id: &str, body: &str) -> String {
    format!("id: {id}\nnamespace: {namespace}\n{body}")
}

fn call(namespace: &str, flow_id: &str, extra: &str) -> String {
    format!(
        "tasks:\n  - id: call\n    type: {SUBFLOW}\n    namespace: {namespace}\n    flowId: {flow_id}\n{extra}"
    )
}

async fn execution(app: &TestApp, tenant: &str, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/{tenant}/executions/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The executions of one flow, newest first.
async fn executions_of(app: &TestApp, tenant: &str, flow_id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/{tenant}/executions/search?namespace=company.team&flowId={flow_id}&size=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().cloned().unwrap_or_default()
}

fn state(execution: &Value) -> &str {
    execution["state"]["current"].as_str().unwrap_or_default()
}

/// Asks for an execution of acme to be killed; the HTTP status.
async fn request_kill(app: &TestApp, id: &str) -> u16 {
    app.client
        .delete(app.url(&format!("/api/v1/acme/executions/{id}/kill")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("kill")
        .status()
        .as_u16()
}

async fn error_logs(app: &TestApp, tenant: &str, id: &str) -> String {
    let (status, logs) = app
        .get(&format!("/api/v1/{tenant}/logs/{id}?minLevel=ERROR"))
        .await;
    assert_eq!(status, 200, "{logs}");
    logs.to_string()
}

#[tokio::test]
async fn a_subflow_runs_with_its_inputs_and_labels_and_hands_back_its_outputs() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "child",
            "labels:\n  kind: child\ninputs:\n  - id: who\n    type: STRING\n  - id: times\n    type: INT\n    defaults: 1\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"hi {{ inputs.who }}\"\noutputs:\n  - id: greeting\n    type: STRING\n    value: \"hi {{ inputs.who }} x{{ inputs.times }}\"\n",
        ),
    )
    .await;
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "parent",
            &format!(
                "labels:\n  team: data\n{}  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.call.state }}}} {{{{ outputs.call.outputs.greeting }}}}\"\n",
                call(
                    "company.team",
                    "child",
                    "    inputs:\n      who: \"{{ flow.id }}\"\n      times: 3\n    labels:\n      step: \"{{ task.id }}\"\n"
                )
            ),
        ),
    )
    .await;
    let parent = run(&app, "acme", "company.team/parent", json!({})).await;
    assert_eq!(state(&parent), "SUCCESS", "{parent}");
    let called = task_run(&parent, "call");
    let child_id = called["outputs"]["executionId"].as_str().expect("child id");
    assert_eq!(called["outputs"]["state"], "SUCCESS", "{called}");
    assert_eq!(called["outputs"]["outputs"]["greeting"], "hi parent x3");
    assert_eq!(
        task_run(&parent, "after")["outputs"]["value"],
        "SUCCESS hi parent x3"
    );

    let child = execution(&app, "acme", child_id).await;
    assert_eq!(state(&child), "SUCCESS", "{child}");
    assert_eq!(child["inputs"], json!({"who": "parent", "times": 3}));
    // Kestra's trigger of a subflow execution: the task and its parent.
    assert_eq!(child["trigger"]["id"], "call");
    assert_eq!(child["trigger"]["type"], SUBFLOW);
    assert_eq!(
        child["trigger"]["variables"],
        json!({"executionId": parent["id"], "namespace": "company.team", "flowId": "parent",
               "flowRevision": 1})
    );
    // Its flow's labels, the parent's correlation id (not its other labels
    // without inheritLabels) and the task's own.
    assert_eq!(
        child["labels"],
        json!({"kind": "child", "step": "call", "system.correlationId": parent["id"]})
    );

    // Kestra's subflow-parent -> subflow-child -> subflow-grand-child.
    for (id, body) in [
        (
            "subflow-grand-child",
            "tasks:\n  - id: firstLevel\n    type: io.kestra.plugin.core.log.Log\n    message: \"My grandparent is {{labels.system.correlationId}}\"\n".to_owned(),
        ),
        ("subflow-child", call("company.team", "subflow-grand-child", "")),
        ("subflow-parent", call("company.team", "subflow-child", "")),
    ] {
        create_flow(&app, "acme", &flow("company.team", id, &body)).await;
    }
    let top = run(&app, "acme", "company.team/subflow-parent", json!({})).await;
    assert_eq!(state(&top), "SUCCESS", "{top}");
    let grand = executions_of(&app, "acme", "subflow-grand-child").await;
    assert_eq!(grand.len(), 1);
    let grand_id = grand[0]["id"].as_str().expect("id");
    let (status, logs) = app.get(&format!("/api/v1/acme/logs/{grand_id}")).await;
    assert_eq!(status, 200);
    let top_id = top["id"].as_str().expect("id");
    assert!(
        logs.to_string()
            .contains(&format!("My grandparent is {top_id}")),
        "{logs}"
    );

    // inheritLabels passes every label of the parent on.
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "inherits",
            &format!(
                "labels:\n  team: data\n{}",
                call(
                    "company.team",
                    "child",
                    "    inheritLabels: true\n    inputs:\n      who: x\n"
                )
            ),
        ),
    )
    .await;
    let parent = run(&app, "acme", "company.team/inherits", json!({})).await;
    let child_id = task_run(&parent, "call")["outputs"]["executionId"]
        .as_str()
        .expect("child");
    let child = execution(&app, "acme", child_id).await;
    assert_eq!(child["labels"]["team"], "data", "{child}");

    // Inputs the subflow refuses fail the task, naming them; no child.
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "bad-inputs",
            &call("company.team", "child", "    inputs:\n      times: many\n"),
        ),
    )
    .await;
    let failed = run(&app, "acme", "company.team/bad-inputs", json!({})).await;
    assert_eq!(state(&failed), "FAILED", "{failed}");
    let logs = error_logs(&app, "acme", failed["id"].as_str().expect("id")).await;
    assert!(logs.contains("inputs of company.team/child"), "{logs}");
    assert_eq!(executions_of(&app, "acme", "child").await.len(), 2);
}

#[tokio::test]
async fn a_subflows_failure_is_passed_on_retried_or_ignored_as_asked() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let fails = "tasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n";
    create_flow(&app, "acme", &flow("company.team", "failed-first", fails)).await;
    for (id, body) in [
        ("transmits", call("company.team", "failed-first", "")),
        (
            "swallows",
            call(
                "company.team",
                "failed-first",
                "    transmitFailed: false\n",
            ),
        ),
        (
            "allowed",
            call("company.team", "failed-first", "    allowFailure: true\n"),
        ),
        (
            "fire-and-forget",
            call("company.team", "failed-first", "    wait: false\n"),
        ),
        // Kestra's retry-subflow: each attempt is a new child.
        (
            "retry-subflow",
            format!(
                "retry:\n  type: constant\n  interval: PT0.1S\n  maxAttempt: 3\n{}",
                call("company.team", "failed-first", "")
            ),
        ),
        ("missing", call("company.team", "nobody", "")),
    ] {
        create_flow(&app, "acme", &flow("company.team", id, &body)).await;
    }

    let transmitted = run(&app, "acme", "company.team/transmits", json!({})).await;
    assert_eq!(state(&transmitted), "FAILED", "{transmitted}");
    let called = task_run(&transmitted, "call");
    assert_eq!(called["state"]["current"], "FAILED");
    assert_eq!(called["outputs"]["state"], "FAILED", "{called}");

    let swallowed = run(&app, "acme", "company.team/swallows", json!({})).await;
    assert_eq!(state(&swallowed), "SUCCESS", "{swallowed}");
    assert_eq!(task_run(&swallowed, "call")["outputs"]["state"], "FAILED");

    let allowed = run(&app, "acme", "company.team/allowed", json!({})).await;
    assert_eq!(state(&allowed), "WARNING", "{allowed}");

    let forgotten = run(&app, "acme", "company.team/fire-and-forget", json!({})).await;
    assert_eq!(state(&forgotten), "SUCCESS", "{forgotten}");
    let outputs = &task_run(&forgotten, "call")["outputs"];
    assert!(
        outputs.get("state").is_none(),
        "no state without wait: {outputs}"
    );
    let child_id = outputs["executionId"].as_str().expect("child");
    wait_until(&app, "acme", child_id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "FAILED"
    })
    .await;

    let before = executions_of(&app, "acme", "failed-first").await.len();
    let retried = run(&app, "acme", "company.team/retry-subflow", json!({})).await;
    assert_eq!(state(&retried), "FAILED", "{retried}");
    assert_eq!(task_run(&retried, "call")["attempts"], 3, "{retried}");
    assert_eq!(
        executions_of(&app, "acme", "failed-first").await.len(),
        before + 3,
        "one child per attempt"
    );

    let missing = run(&app, "acme", "company.team/missing", json!({})).await;
    assert_eq!(state(&missing), "FAILED", "{missing}");
    let logs = error_logs(&app, "acme", missing["id"].as_str().expect("id")).await;
    assert!(
        logs.contains("Unable to find flow 'company.team'.'nobody'"),
        "{logs}"
    );

    // A disabled subflow is not run.
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/failed-first",
            &app.admin,
            &flow(
                "company.team",
                "failed-first",
                &format!("disabled: true\n{fails}"),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let disabled = run(&app, "acme", "company.team/transmits", json!({})).await;
    assert_eq!(state(&disabled), "FAILED");
    let logs = error_logs(&app, "acme", disabled["id"].as_str().expect("id")).await;
    assert!(
        logs.contains("Cannot execute a flow which is disabled"),
        "{logs}"
    );

    // Fixed, a restart of the failed parent starts a new child and ends
    // as it does.
    create_flow_update(
        &app,
        "failed-first",
        "tasks:\n  - id: fine\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n",
    )
    .await;
    let id = transmitted["id"].as_str().expect("id");
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/restart"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let restarted = wait_until(&app, "acme", id, Duration::from_secs(20), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert_eq!(task_run(&restarted, "call")["outputs"]["state"], "SUCCESS");
}

async fn create_flow_update(app: &TestApp, id: &str, body: &str) {
    let (status, answer) = app
        .yaml(
            Method::PUT,
            &format!("/api/v1/acme/flows/company.team/{id}"),
            &app.admin,
            &flow("company.team", id, body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_waiting_parent_holds_no_running_slot_and_its_kill_reaches_the_child() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    // One running execution at a time: a parent that held its slot while
    // its child waited for one would never end.
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"runningExecutions": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let nap = "tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: \"{{ inputs.nap }}\"\ninputs:\n  - id: nap\n    type: STRING\n";
    create_flow(&app, "acme", &flow("company.team", "nap", nap)).await;
    for (id, length) in [("short", "PT0.2S"), ("long", "PT60S")] {
        let body = call(
            "company.team",
            "nap",
            &format!("    inputs:\n      nap: {length}\n"),
        );
        create_flow(&app, "acme", &flow("company.team", id, &body)).await;
    }
    let done = run(&app, "acme", "company.team/short", json!({})).await;
    assert_eq!(state(&done), "SUCCESS", "{done}");

    let (status, started) = app
        .post("/api/v1/acme/executions/company.team/long", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let parent_id = started["id"].as_str().expect("id").to_owned();
    let waiting = wait_until(&app, "acme", &parent_id, Duration::from_secs(10), |e| {
        e["taskRunList"]
            .as_array()
            .and_then(|runs| runs.first())
            .is_some_and(|r| r["outputs"]["executionId"].is_string())
    })
    .await;
    assert_eq!(state(&waiting), "RUNNING", "{waiting}");
    let child_id = task_run(&waiting, "call")["outputs"]["executionId"]
        .as_str()
        .expect("child")
        .to_owned();
    wait_until(&app, "acme", &child_id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "RUNNING"
    })
    .await;
    assert_eq!(request_kill(&app, &parent_id).await, 202);
    for id in [&parent_id, &child_id] {
        wait_until(&app, "acme", id, Duration::from_secs(10), |e| {
            e["state"]["current"] == "KILLED"
        })
        .await;
    }
    // The waiting task ends KILLED with it, so a restart starts a new child.
    let killed = execution(&app, "acme", &parent_id).await;
    assert_eq!(
        task_run(&killed, "call")["state"]["current"],
        "KILLED",
        "{killed}"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/acme/executions/{parent_id}/restart"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // RUNNING again, waiting for a new child.
    wait_until(&app, "acme", &parent_id, Duration::from_secs(10), |e| {
        state(e) == "RUNNING"
            && e["taskRunList"]
                .as_array()
                .and_then(|runs| runs.first())
                .and_then(|r| r["outputs"]["executionId"].as_str())
                .is_some_and(|id| id != child_id)
    })
    .await;
    assert_eq!(request_kill(&app, &parent_id).await, 202);
}

#[tokio::test]
async fn a_subflow_reaches_no_other_namespace_unless_allowed_no_other_tenant_and_no_endless_chain()
{
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let hello =
        "tasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n";
    create_flow(&app, "acme", &flow("team-b", "shared", hello)).await;
    create_flow(
        &app,
        "acme",
        &flow("team-a", "caller", &call("team-b", "shared", "")),
    )
    .await;
    let refused = run(&app, "acme", "team-a/caller", json!({})).await;
    assert_eq!(state(&refused), "FAILED", "{refused}");
    let logs = error_logs(&app, "acme", refused["id"].as_str().expect("id")).await;
    assert!(
        logs.contains("may not start the flows of namespace team-b"),
        "{logs}"
    );
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/team-b/settings",
            json!({"allowedNamespaces": ["team-a"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let allowed = run(&app, "acme", "team-a/caller", json!({})).await;
    assert_eq!(state(&allowed), "SUCCESS", "{allowed}");

    // The same names in another tenant are not found from here, and
    // nothing runs there.
    create_flow(&app, "globex", &flow("company.team", "target", hello)).await;
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "across",
            &call("company.team", "target", ""),
        ),
    )
    .await;
    let across = run(&app, "acme", "company.team/across", json!({})).await;
    assert_eq!(state(&across), "FAILED", "{across}");
    let logs = error_logs(&app, "acme", across["id"].as_str().expect("id")).await;
    assert!(logs.contains("Unable to find flow"), "{logs}");
    assert!(executions_of(&app, "globex", "target").await.is_empty());

    // A flow calling itself stops at ten executions deep, and the failure
    // goes back up the chain.
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "itself",
            &call("company.team", "itself", ""),
        ),
    )
    .await;
    let (status, top) = app
        .post("/api/v1/acme/executions/company.team/itself", json!({}))
        .await;
    assert_eq!(status, 200, "{top}");
    let top_id = top["id"].as_str().expect("id");
    let ended = wait_until(&app, "acme", top_id, Duration::from_secs(30), |e| {
        e["state"]["current"] == "FAILED"
    })
    .await;
    assert_eq!(state(&ended), "FAILED");
    let chain = executions_of(&app, "acme", "itself").await;
    assert_eq!(chain.len(), 10, "{chain:?}");
    assert!(chain.iter().all(|e| state(e) == "FAILED"));
    let mut refusals = 0;
    for execution in &chain {
        let logs = error_logs(&app, "acme", execution["id"].as_str().expect("id")).await;
        refusals += usize::from(logs.contains("a chain of subflows may be 10 executions deep"));
    }
    assert_eq!(
        refusals, 1,
        "the deepest execution alone was refused a child"
    );
}

#[tokio::test]
async fn a_spaced_secret_call_renders_and_secrets_do_not_travel_into_a_subflow() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company.team/secrets/TOKEN",
            json!({"value": "tok-very-secret-value"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let child = "inputs:\n  - id: v\n    type: STRING\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.v }}\"\n";
    create_flow(&app, "acme", &flow("company.team", "child", child)).await;
    // `secret ('TOKEN')`, spaced, is a lookup too: it runs (off the async
    // threads) and is masked, instead of stopping the worker.
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "spaced",
            "tasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret ('TOKEN') | length }} {{ secret ('TOKEN') }}\"\n",
        ),
    )
    .await;
    let spaced = run(&app, "acme", "company.team/spaced", json!({})).await;
    assert_eq!(state(&spaced), "SUCCESS", "{spaced}");
    assert_eq!(task_run(&spaced, "say")["outputs"]["value"], "21 ******");
    // A secret's value is not handed to another execution.
    create_flow(
        &app,
        "acme",
        &flow(
            "company.team",
            "leaky",
            &call(
                "company.team",
                "child",
                "    inputs:\n      v: \"{{ secret('TOKEN') }}\"\n",
            ),
        ),
    )
    .await;
    let leaky = run(&app, "acme", "company.team/leaky", json!({})).await;
    assert_eq!(state(&leaky), "FAILED", "{leaky}");
    let logs = error_logs(&app, "acme", leaky["id"].as_str().expect("id")).await;
    assert!(logs.contains("carry a secret's value"), "{logs}");
    assert!(!logs.contains("tok-very-secret-value"), "{logs}");
    assert!(executions_of(&app, "acme", "child").await.is_empty());
}

#[tokio::test]
async fn a_kill_racing_a_subflows_start_never_leaves_the_child_running() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let nap =
        "tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n";
    create_flow(&app, "acme", &flow("company.team", "leaf", nap)).await;
    create_flow(
        &app,
        "acme",
        &flow("company.team", "mid", &call("company.team", "leaf", "")),
    )
    .await;
    let mut parents = Vec::new();
    for _ in 0..12 {
        let (status, started) = app
            .post("/api/v1/acme/executions/company.team/mid", json!({}))
            .await;
        assert_eq!(status, 200, "{started}");
        let id = started["id"].as_str().expect("id").to_owned();
        let status = request_kill(&app, &id).await;
        assert!((200..300).contains(&status) || status == 409, "{status}");
        parents.push(id);
    }
    for id in &parents {
        wait_until(&app, "acme", id, Duration::from_secs(20), |e| {
            e["state"]["current"] == "KILLED"
        })
        .await;
    }
    // Every child that was started ends KILLED with its parent.
    for child in executions_of(&app, "acme", "leaf").await {
        let id = child["id"].as_str().expect("id");
        wait_until(&app, "acme", id, Duration::from_secs(20), |e| {
            e["state"]["current"] == "KILLED"
        })
        .await;
    }
}

/// A subflow that retries in new executions (`CREATE_NEW_EXECUTION`) is
/// waited for through every attempt: the parent passes on how the last
/// one ended, not the first one's RETRIED.
#[tokio::test]
async fn a_parent_waits_for_every_attempt_of_a_retried_subflow() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let child = "tasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    retry:\n      behavior: CREATE_NEW_EXECUTION\n      type: constant\n      interval: PT0.2S\n      maxAttempt: 3\n";
    create_flow(&app, "acme", &flow("company.team", "flaky", child)).await;
    let parent = format!(
        "{}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
        call("company.team", "flaky", "")
    );
    create_flow(&app, "acme", &flow("company.team", "caller", &parent)).await;
    let done = run(&app, "acme", "company.team/caller", json!({})).await;
    assert_eq!(state(&done), "FAILED", "{done}");
    let called = task_run(&done, "call");
    assert_eq!(called["state"]["current"], "FAILED", "{done}");
    assert_eq!(called["outputs"]["state"], "FAILED", "{done}");
    assert!(
        done["taskRunList"]
            .as_array()
            .expect("runs")
            .iter()
            .all(|r| r["taskId"] != "after"),
        "{done}"
    );
    let (_, found) = app
        .get("/api/v1/acme/executions/search?flowId=flaky&size=10&sort=created:asc")
        .await;
    let states: Vec<&str> = found["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|e| e["state"]["current"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["RETRIED", "RETRIED", "FAILED"]);
}

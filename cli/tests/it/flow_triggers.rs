//! Kestra's Flow trigger: a flow starts when an execution of another ends,
//! with `trigger.outputs` in its inputs, as Kestra's own example runs; the
//! states, preconditions and conditions narrow it; it sees another
//! namespace only when that namespace allows it, another tenant never, and
//! its own executions never.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::{create_flow, run, task_run, tenant, wait_until};

const FLOW_TRIGGER: &str = "io.kestra.plugin.core.trigger.Flow";

fn flow(namespace: &str, id: &str, body: &str) -> String {
    format!("id: {id}\nnamespace: {namespace}\n{body}")
}

async fn executions_of(app: &TestApp, tenant: &str, namespace: &str, flow_id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/{tenant}/executions/search?namespace={namespace}&flowId={flow_id}&size=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_flow_trigger_starts_its_flow_when_another_ends_as_kestras_example_does() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    // Kestra's example: transform runs after extract succeeds, with its
    // output as an input.
    let extract = "inputs:\n  - id: fail\n    type: BOOLEAN\n    defaults: false\ntasks:\n  - id: final_date\n    type: io.kestra.plugin.core.debug.Return\n    format: \"2026-01-01\"\n  - id: maybe\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ inputs.fail }}\"\noutputs:\n  - id: date\n    type: STRING\n    value: \"{{ outputs.final_date.value }}\"\n";
    let transform = format!(
        "inputs:\n  - id: date\n    type: STRING\n    defaults: \"2025-01-01\"\nvariables:\n  result: |\n    Ingestion done in {{{{ trigger.executionId }}}}.\n    Now transforming data up to {{{{ inputs.date }}}}\ntasks:\n  - id: run_transform\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ render(vars.result) }}}}\"\ntriggers:\n  - id: run_after_extract\n    type: {FLOW_TRIGGER}\n    inputs:\n      date: \"{{{{ trigger.outputs.date }}}}\"\n    preconditions:\n      id: flows\n      flows:\n        - namespace: company.team\n          flowId: extract\n          states: [SUCCESS]\n"
    );
    // Every failure under company, seen from another namespace.
    let alert = format!(
        "tasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ trigger.namespace }}}}/{{{{ trigger.flowId }}}} ended {{{{ trigger.state }}}}\"\ntriggers:\n  - id: on_failure\n    type: {FLOW_TRIGGER}\n    states: [FAILED, WARNING]\n    preconditions:\n      id: company\n      where:\n        - id: company\n          filters:\n            - field: NAMESPACE\n              type: STARTS_WITH\n              value: company\n"
    );
    // A trigger on its own flow never fires on it.
    let own = format!(
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: again\n    type: {FLOW_TRIGGER}\n    preconditions:\n      id: me\n      flows:\n        - namespace: company.team\n          flowId: own\n"
    );
    // Inputs its flow refuses: the end says so, nothing starts.
    let picky = format!(
        "inputs:\n  - id: n\n    type: INT\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: after\n    type: {FLOW_TRIGGER}\n    inputs:\n      n: \"{{{{ trigger.outputs.date }}}}\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: company.team\n        flowId: extract\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n"
    );
    create_flow(&app, "acme", &flow("company.team", "extract", extract)).await;
    create_flow(&app, "acme", &flow("company.team", "transform", &transform)).await;
    create_flow(&app, "acme", &flow("ops", "alert", &alert)).await;
    create_flow(&app, "acme", &flow("company.team", "own", &own)).await;
    create_flow(&app, "acme", &flow("company.team", "picky", &picky)).await;
    // Another tenant watching the same names sees nothing of acme.
    create_flow(
        &app,
        "globex",
        &flow("company.team", "transform", &transform),
    )
    .await;

    let upstream = run(&app, "acme", "company.team/extract", json!({})).await;
    assert_eq!(upstream["state"]["current"], "SUCCESS", "{upstream}");
    let upstream_id = upstream["id"].as_str().expect("id");
    // Started in the write that ended extract: there already.
    let started = executions_of(&app, "acme", "company.team", "transform").await;
    assert_eq!(started.len(), 1, "{started:?}");
    let id = started[0]["id"].as_str().expect("id");
    let downstream = wait_until(&app, "acme", id, std::time::Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert_eq!(downstream["inputs"]["date"], "2026-01-01");
    assert_eq!(downstream["trigger"]["id"], "run_after_extract");
    assert_eq!(downstream["trigger"]["type"], FLOW_TRIGGER);
    assert_eq!(
        downstream["trigger"]["variables"],
        json!({"executionId": upstream_id, "namespace": "company.team", "flowId": "extract",
               "flowRevision": 1, "state": "SUCCESS"})
    );
    assert_eq!(
        task_run(&downstream, "run_transform")["outputs"]["value"],
        format!("Ingestion done in {upstream_id}.\nNow transforming data up to 2026-01-01\n")
    );
    assert!(
        executions_of(&app, "globex", "company.team", "transform")
            .await
            .is_empty(),
        "another tenant's trigger never fires on acme's executions"
    );
    // `own` runs when started, never again for its own end.
    let (status, _) = app
        .post(
            "/api/v1/acme/executions/company.team/own?wait=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        executions_of(&app, "acme", "company.team", "own")
            .await
            .len(),
        1
    );
    // picky's input refused extract's output: extract's end says so.
    assert!(
        executions_of(&app, "acme", "company.team", "picky")
            .await
            .is_empty()
    );
    let (status, logs) = app
        .get(&format!("/api/v1/acme/logs/{upstream_id}?minLevel=WARN"))
        .await;
    assert_eq!(status, 200, "{logs}");
    assert!(
        logs.to_string()
            .contains("Flow trigger company.team/picky.after did not start: its inputs do not fit"),
        "{logs}"
    );

    // A failed extract starts no transform. ops may not see company's
    // executions until company allows it.
    let failed = run(&app, "acme", "company.team/extract", json!({"fail": true})).await;
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    assert_eq!(
        executions_of(&app, "acme", "company.team", "transform")
            .await
            .len(),
        1
    );
    assert!(executions_of(&app, "acme", "ops", "alert").await.is_empty());
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company.team/settings",
            json!({"allowedNamespaces": ["ops"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let failed = run(&app, "acme", "company.team/extract", json!({"fail": true})).await;
    let alerts = executions_of(&app, "acme", "ops", "alert").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let id = alerts[0]["id"].as_str().expect("id");
    wait_until(&app, "acme", id, std::time::Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let (status, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        logs.to_string()
            .contains("company.team/extract ended FAILED"),
        "{logs}"
    );
    assert_eq!(
        executions_of(&app, "acme", "ops", "alert").await[0]["trigger"]["variables"]["executionId"],
        failed["id"]
    );
}

/// Kestra's FlowTriggerCaseTest#triggerWithPause: a listener on RUNNING,
/// PAUSED and the end states starts once per move of a flow that pauses
/// and resumes by itself: RUNNING, PAUSED, RUNNING, SUCCESS, in order. A
/// pause and a resume by hand fire it too; another tenant's never do.
#[tokio::test]
async fn a_flow_trigger_on_running_and_paused_fires_on_each_move() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let listener = format!(
        "outputs:\n  - id: status\n    type: STRING\n    value: \"{{{{ trigger.state }}}}\"\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ trigger.executionId }}}} is {{{{ trigger.state }}}}\"\ntriggers:\n  - id: listen-flow\n    type: {FLOW_TRIGGER}\n    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: io.kestra.tests.trigger.pause\n        flowId: trigger-flow-with-pause\n"
    );
    let pausing = "tasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    delay: PT0.5S\n  - id: hello_again\n    type: io.kestra.plugin.core.log.Log\n    message: again\n";
    let held = "tasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n";
    for tenant in ["acme", "globex"] {
        create_flow(
            &app,
            tenant,
            &flow(
                "io.kestra.tests.trigger.pause",
                "trigger-flow-listener-with-pause",
                &listener,
            ),
        )
        .await;
    }
    create_flow(
        &app,
        "acme",
        &flow(
            "io.kestra.tests.trigger.pause",
            "trigger-flow-with-pause",
            pausing,
        ),
    )
    .await;
    let ran = run(
        &app,
        "acme",
        "io.kestra.tests.trigger.pause/trigger-flow-with-pause",
        json!({}),
    )
    .await;
    assert_eq!(ran["state"]["current"], "SUCCESS", "{ran}");
    let statuses = |listened: Vec<Value>| {
        let mut ended: Vec<(String, String)> = listened
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap_or_default().to_owned(),
                    e["outputs"]["status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        // Ids are time-ordered: the order the moves started them in.
        ended.sort();
        ended
            .into_iter()
            .map(|(_, status)| status)
            .collect::<Vec<_>>()
    };
    let listened = listened_ended(&app, 4).await;
    assert_eq!(
        statuses(listened),
        ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    );

    // By hand: a pause that waits for a resume, then the resume.
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/io.kestra.tests.trigger.pause/trigger-flow-with-pause",
            &app.admin,
            &flow(
                "io.kestra.tests.trigger.pause",
                "trigger-flow-with-pause",
                held,
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, started) = app
        .post(
            "/api/v1/acme/executions/io.kestra.tests.trigger.pause/trigger-flow-with-pause",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    wait_until(&app, "acme", &id, std::time::Duration::from_secs(10), |e| {
        e["state"]["current"] == "PAUSED"
    })
    .await;
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{id}/resume"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until(&app, "acme", &id, std::time::Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let listened = listened_ended(&app, 8).await;
    assert_eq!(
        statuses(listened)[4..],
        ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    );
    // The same names in another tenant saw none of it.
    let theirs = executions_of(
        &app,
        "globex",
        "io.kestra.tests.trigger.pause",
        "trigger-flow-listener-with-pause",
    )
    .await;
    assert!(theirs.is_empty(), "{theirs:?}");
}

/// The listener's executions in acme once `count` have ended SUCCESS (or
/// after 20 s, whatever there is).
async fn listened_ended(app: &TestApp, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let listened = executions_of(
            app,
            "acme",
            "io.kestra.tests.trigger.pause",
            "trigger-flow-listener-with-pause",
        )
        .await;
        let done =
            listened.len() >= count && listened.iter().all(|e| e["state"]["current"] == "SUCCESS");
        if done || std::time::Instant::now() > deadline {
            return listened;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Triggers whose flow may not see an execution take nothing of its
/// budget and are not named in its log: a hundred of them in other
/// namespaces leave the one that sees it to start its flow.
#[tokio::test]
async fn triggers_that_cannot_see_an_execution_neither_spend_its_budget_nor_show_in_its_log() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let on_failure = format!(
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: onfail\n    type: {FLOW_TRIGGER}\n    states: [FAILED]\n"
    );
    for i in 0..100 {
        create_flow(
            &app,
            "acme",
            &flow(&format!("other{i}"), "alert", &on_failure),
        )
        .await;
    }
    create_flow(&app, "acme", &flow("z", "listener", &on_failure)).await;
    create_flow(
        &app,
        "acme",
        &flow(
            "z",
            "failing",
            "tasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n",
        ),
    )
    .await;
    let failed = run(&app, "acme", "z/failing", json!({})).await;
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let started = executions_of(&app, "acme", "z", "listener").await;
        if !started.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, logs) = app
        .get(&format!(
            "/api/v1/acme/logs/{}",
            failed["id"].as_str().expect("id")
        ))
        .await;
    assert!(!logs.to_string().contains("other"), "{logs}");
}

/// Flows `a` and `b` (one Log each) and two listeners whose preconditions
/// need both within a day: `once` forgets what was met when it fires,
/// `again` keeps it (resetOnSuccess: false).
async fn set_of_two(app: &TestApp, tenant: &str) {
    for id in ["a", "b"] {
        let body = "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        create_flow(app, tenant, &flow("company.team", id, body)).await;
    }
    for (id, reset) in [("once", true), ("again", false)] {
        let body = format!(
            "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: \"after {{{{ trigger.flowId }}}}\"\ntriggers:\n  - id: both\n    type: {FLOW_TRIGGER}\n    preconditions:\n      id: both\n      resetOnSuccess: {reset}\n      timeWindow:\n        type: DURATION_WINDOW\n        window: P1D\n      flows:\n        - namespace: company.team\n          flowId: a\n          states: [SUCCESS]\n      where:\n        - id: b\n          filters:\n            - field: FLOW_ID\n              type: EQUAL_TO\n              value: b\n            - field: EXPRESSION\n              type: IS_TRUE\n              value: \"{{{{ execution.state == 'SUCCESS' }}}}\"\n"
        );
        // A child namespace sees its parent's executions.
        create_flow(app, tenant, &flow("company.team.next", id, &body)).await;
    }
}

#[tokio::test]
async fn preconditions_fire_once_all_are_met_by_executions_of_their_own_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "bravo").await;
    set_of_two(&app, "acme").await;
    set_of_two(&app, "bravo").await;
    let count = |tenant: &'static str, id: &'static str| {
        let app = &app;
        async move {
            executions_of(app, tenant, "company.team.next", id)
                .await
                .len()
        }
    };
    // bravo meets both of its sets; acme's stay as they were.
    run(&app, "bravo", "company.team/a", json!({})).await;
    run(&app, "bravo", "company.team/b", json!({})).await;
    assert_eq!(count("bravo", "once").await, 1);
    assert_eq!(count("acme", "once").await, 0);
    // acme's a alone meets half of each set: nothing starts; nor does
    // bravo's b, which is not acme's.
    run(&app, "acme", "company.team/a", json!({})).await;
    run(&app, "bravo", "company.team/b", json!({})).await;
    assert_eq!(count("acme", "once").await, 0);
    assert_eq!(count("acme", "again").await, 0);
    // acme's b completes both sets: each listener starts once, in the
    // write that ends b, with b as its trigger.
    let b = run(&app, "acme", "company.team/b", json!({})).await;
    let started = executions_of(&app, "acme", "company.team.next", "once").await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["trigger"]["variables"]["executionId"], b["id"]);
    assert_eq!(count("acme", "again").await, 1);
    // Another b: `once` forgot what was met and waits for a again;
    // `again` kept it and fires on each part met anew.
    run(&app, "acme", "company.team/b", json!({})).await;
    assert_eq!(count("acme", "once").await, 1);
    assert_eq!(count("acme", "again").await, 2);
    // A failed b meets no part (its state fails the EXPRESSION).
    let failing = "tasks:\n  - id: no\n    type: io.kestra.plugin.core.execution.Fail\n";
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/b",
            &app.admin,
            &flow("company.team", "b", failing),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let failed = run(&app, "acme", "company.team/b", json!({})).await;
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    assert_eq!(count("acme", "again").await, 2);
    run(&app, "acme", "company.team/a", json!({})).await;
    assert_eq!(count("acme", "once").await, 2);
    assert_eq!(count("acme", "again").await, 3);
    // bravo's counts moved only with bravo's own second b.
    assert_eq!(count("bravo", "once").await, 1);
    assert_eq!(count("bravo", "again").await, 2);
}

#[tokio::test]
async fn a_changed_set_of_conditions_starts_again_and_expressions_reach_nothing_outside() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    set_of_two(&app, "acme").await;
    run(&app, "acme", "company.team/a", json!({})).await;
    // The set changes (a is now c): a's part no longer counts.
    let changed = format!(
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: both\n    type: {FLOW_TRIGGER}\n    preconditions:\n      id: both\n      flows:\n        - namespace: company.team\n          flowId: c\n      where:\n        - id: b\n          filters:\n            - field: FLOW_ID\n              type: EQUAL_TO\n              value: b\n"
    );
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team.next/once",
            &app.admin,
            &flow("company.team.next", "once", &changed),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Triggers are read again within 5 s.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    run(&app, "acme", "company.team/b", json!({})).await;
    assert!(
        executions_of(&app, "acme", "company.team.next", "once")
            .await
            .is_empty()
    );
    // An EXPRESSION may reach no secret, even built at run time: it does
    // not hold, and the execution it watches ends as it would.
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company.team/secrets/K",
            json!({"value": "s3cr3t"}),
        )
        .await;
    assert!(matches!(status, 200 | 201 | 204), "{body}");
    let sneaky = format!(
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: peek\n    type: {FLOW_TRIGGER}\n    preconditions:\n      id: p\n      where:\n        - id: w\n          filters:\n            - field: EXPRESSION\n              type: IS_NOT_NULL\n              value: '{{{{ render(\"{{{{ sec\" ~ \"ret(''K'') }}}}\") }}}}'\n"
    );
    create_flow(&app, "acme", &flow("company.team", "sneaky", &sneaky)).await;
    let watched = run(&app, "acme", "company.team/a", json!({})).await;
    assert_eq!(watched["state"]["current"], "SUCCESS", "{watched}");
    assert!(
        executions_of(&app, "acme", "company.team", "sneaky")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_flow_trigger_refuses_what_aerie_would_not_evaluate() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    for (trigger, says) in [
        ("    states: [QUEUED]\n", "QUEUED is not supported"),
        (
            "    preconditions:\n      id: p\n      timeWindow:\n        type: DAILY_TIME_DEADLINE\n      flows:\n        - namespace: a\n",
            "needs 'deadline'",
        ),
        (
            "    preconditions:\n      id: p\n      where:\n        - id: w\n          filters:\n            - field: EXPRESSION\n              type: EQUAL_TO\n              value: \"{{ true }}\"\n",
            "tested with IS_TRUE",
        ),
        (
            "    stopAfter: [FAILED]\n",
            "'stopAfter' is a Kestra property",
        ),
    ] {
        let source = flow(
            "company.team",
            "refused",
            &format!(
                "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: t\n    type: {FLOW_TRIGGER}\n{trigger}"
            ),
        );
        let (status, answer) = app
            .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, &source)
            .await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.to_string().contains(says), "{says}: {answer}");
    }
}

#[tokio::test]
async fn the_flows_one_end_starts_count_against_the_queue_quota_together() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"queuedExecutions": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hello = "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    create_flow(&app, "acme", &flow("company.team", "up", hello)).await;
    for n in 0..4 {
        create_flow(
            &app,
            "acme",
            &flow(
                "company.team",
                &format!("down{n}"),
                &format!(
                    "{hello}triggers:\n  - id: after\n    type: {FLOW_TRIGGER}\n    preconditions:\n      id: p\n      flows:\n        - namespace: company.team\n          flowId: up\n"
                ),
            ),
        )
        .await;
    }
    let up = run(&app, "acme", "company.team/up", json!({})).await;
    let mut started = 0;
    for n in 0..4 {
        started += executions_of(&app, "acme", "company.team", &format!("down{n}"))
            .await
            .len();
    }
    assert_eq!(started, 2, "two fit the queue quota of 2");
    let id = up["id"].as_str().expect("id");
    let (status, logs) = app
        .get(&format!("/api/v1/acme/logs/{id}?minLevel=WARN"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        logs.as_array()
            .expect("lines")
            .iter()
            .filter(|l| l["message"]
                .as_str()
                .unwrap_or_default()
                .contains("queued-executions"))
            .count(),
        2,
        "{logs}"
    );
}

/// Two flows whose Flow triggers start each other stop after ten starts in
/// a row, the last end saying why, instead of running for ever.
#[tokio::test]
async fn flows_that_trigger_each_other_stop_after_ten_starts() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    for (id, other) in [("ping", "pong"), ("pong", "ping")] {
        let body = format!(
            "tasks:\n  - id: hit\n    type: io.kestra.plugin.core.log.Log\n    message: {id}\ntriggers:\n  - id: back\n    type: {FLOW_TRIGGER}\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: company.team\n        flowId: {other}\n"
        );
        create_flow(&app, "acme", &flow("company.team", id, &body)).await;
    }
    run(&app, "acme", "company.team/ping", json!({})).await;
    // The first by hand, then ten started by the triggers: 6 pings, 5 pongs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (pings, pongs) = loop {
        let pings = executions_of(&app, "acme", "company.team", "ping").await;
        let pongs = executions_of(&app, "acme", "company.team", "pong").await;
        let ended = pings
            .iter()
            .chain(&pongs)
            .all(|e| e["state"]["current"] == "SUCCESS");
        if pings.len() + pongs.len() >= 11 && ended {
            break (pings, pongs);
        }
        assert!(std::time::Instant::now() < deadline, "{pings:?} {pongs:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!((pings.len(), pongs.len()), (6, 5), "{pings:?} {pongs:?}");
    let still = executions_of(&app, "acme", "company.team", "ping")
        .await
        .len()
        + executions_of(&app, "acme", "company.team", "pong")
            .await
            .len();
    assert_eq!(still, 11, "the chain went on");
    let last = pings
        .iter()
        .chain(&pongs)
        .max_by_key(|e| e["trigger"]["chain"].as_u64().unwrap_or(0))
        .expect("last");
    assert_eq!(last["trigger"]["chain"], 10, "{last}");
    let (_, logs) = app
        .get(&format!(
            "/api/v1/acme/logs/{}",
            last["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        logs.to_string()
            .contains("at most 10 are (do flows trigger each other?)"),
        "{logs}"
    );
}

/// Flows that each trigger several others would multiply, within the
/// chain limit, into millions of executions: one execution's triggers
/// start at most 100 in all, through every branch.
#[tokio::test]
async fn flows_triggering_several_others_stop_at_a_hundred_executions() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    for id in ["a", "b", "c", "d"] {
        let body = format!(
            "tasks:\n  - id: hit\n    type: io.kestra.plugin.core.log.Log\n    message: {id}\ntriggers:\n  - id: any\n    type: {FLOW_TRIGGER}\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionNamespace\n        namespace: fan\n"
        );
        create_flow(&app, "acme", &flow("fan", id, &body)).await;
    }
    run(&app, "acme", "fan/a", json!({})).await;
    let count = || async {
        let (_, found) = app
            .get("/api/v1/acme/executions/search?namespace=fan&size=1")
            .await;
        found["total"].as_u64().unwrap_or(0)
    };
    // Until the count stops growing.
    let mut last = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = count().await;
        if now == last {
            break;
        }
        last = now;
    }
    assert!((4..=101).contains(&last), "{last} executions");
    let (_, found) = app
        .get("/api/v1/acme/executions/search?namespace=fan&size=200")
        .await;
    let mut said = false;
    for execution in found["results"].as_array().expect("results") {
        let (_, logs) = app
            .get(&format!(
                "/api/v1/acme/logs/{}",
                execution["id"].as_str().expect("id")
            ))
            .await;
        said |= logs
            .to_string()
            .contains("100 executions from one execution");
    }
    assert!(said, "no execution said why the triggers stopped");
}

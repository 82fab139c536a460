//! Kestra flow features carried out as Kestra's own tests expect them
//! (retry, allowWarning, logLevel, flow and schedule labels, schedule
//! inputs), and the Kestra properties Aerie does not carry out refused at
//! creation by name instead of being accepted and ignored.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::{
    create_flow, date_of, history as states, kill, run, task_run, tenant, wait_until,
};

fn flow(id: &str, body: &str) -> String {
    format!("id: {id}\nnamespace: company.team\n{body}")
}

#[tokio::test]
async fn retries_follow_the_nearest_policy_and_end_as_kestras_tests_expect() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let constant = "{type: constant, interval: PT0.1S, maxAttempt: 4}";
    for (id, body) in [
        // Kestra's retry-failed-task-attempts.
        (
            "attempts",
            format!("tasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    retry: {constant}\n"),
        ),
        // retry-success: fails until its third attempt, and says so.
        (
            "success",
            "tasks:\n  - id: flaky\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ taskrun.attemptsCount < 2 }}\"\n    retry: {type: constant, interval: PT0.1S, maxAttempt: 5, warningOnRetry: true}\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: done\n".to_owned(),
        ),
        // retry-flowable: a Sequential's policy retries its failing child.
        (
            "flowable",
            "tasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}\n    tasks:\n      - id: child\n        type: io.kestra.plugin.core.execution.Fail\n".to_owned(),
        ),
        // retry-failed-flow-attempts: the flow's policy applies to every task.
        (
            "flowlevel",
            "retry: {type: exponential, interval: PT0.1S, maxInterval: PT0.2S, maxAttempt: 2}\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n".to_owned(),
        ),
        // task-allow-warning-runnable: retried, allowed to fail, WARNING allowed.
        (
            "allowed",
            format!("tasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n    allowWarning: true\n    retry: {constant}\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: I'm allowed\n"),
        ),
        // retry-success, verbatim: a Pebble ternary fails until attempt 4.
        (
            "pebble",
            "tasks:\n- id: failed\n  type: io.kestra.plugin.core.log.Log\n  message: \"{{ taskrun.attemptsCount == 3 ? 'ok' : ko}}\"\n  retry:\n    type: constant\n    interval: PT0.1S\n    maxAttempt: 4\n    maxDuration: PT15S\n    warningOnRetry: true\nerrors:\n  - id: never-happen\n    type: io.kestra.plugin.core.log.Log\n    message: Never {{task.id}}\n".to_owned(),
        ),
        // maxDuration: no attempt starts 1.4 s after the first.
        (
            "duration",
            "tasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    retry: {type: constant, interval: PT0.5S, maxDuration: PT1.4S}\n".to_owned(),
        ),
    ] {
        create_flow(&app, "acme", &flow(id, &body)).await;
    }

    let attempts = run(&app, "acme", "company.team/attempts", json!({})).await;
    assert_eq!(attempts["state"]["current"], "FAILED", "{attempts}");
    let fail = task_run(&attempts, "fail");
    assert_eq!(fail["attempts"], 4, "{fail}");
    assert_eq!(
        states(fail),
        [
            "CREATED", "RUNNING", "RETRYING", "RUNNING", "RETRYING", "RUNNING", "RETRYING",
            "RUNNING", "FAILED"
        ]
    );
    let id = attempts["id"].as_str().unwrap();
    let (status, logs) = app
        .get(&format!("/api/v1/acme/logs/{id}?minLevel=ERROR"))
        .await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(
        logs.as_array().map(Vec::len),
        Some(4),
        "one error per attempt: {logs}"
    );

    let success = run(&app, "acme", "company.team/success", json!({})).await;
    assert_eq!(success["state"]["current"], "WARNING", "{success}");
    assert_eq!(task_run(&success, "flaky")["attempts"], 3);
    assert_eq!(task_run(&success, "flaky")["state"]["current"], "WARNING");
    assert_eq!(task_run(&success, "after")["outputs"]["value"], "done");

    let flowable = run(&app, "acme", "company.team/flowable", json!({})).await;
    assert_eq!(flowable["state"]["current"], "FAILED");
    assert_eq!(task_run(&flowable, "child")["attempts"], 3, "{flowable}");
    assert_eq!(task_run(&flowable, "seq")["attempts"], 1);

    let flow_level = run(&app, "acme", "company.team/flowlevel", json!({})).await;
    assert_eq!(task_run(&flow_level, "fail")["attempts"], 2, "{flow_level}");

    let allowed = run(&app, "acme", "company.team/allowed", json!({})).await;
    assert_eq!(allowed["state"]["current"], "SUCCESS", "{allowed}");
    assert_eq!(task_run(&allowed, "fail")["attempts"], 4);
    assert_eq!(task_run(&allowed, "fail")["state"]["current"], "SUCCESS");
    assert_eq!(task_run(&allowed, "log")["state"]["current"], "SUCCESS");

    let pebble = run(&app, "acme", "company.team/pebble", json!({})).await;
    assert_eq!(pebble["state"]["current"], "WARNING", "{pebble}");
    assert_eq!(pebble["taskRunList"].as_array().map(Vec::len), Some(1));
    assert_eq!(task_run(&pebble, "failed")["attempts"], 4);

    let duration = run(&app, "acme", "company.team/duration", json!({})).await;
    assert_eq!(task_run(&duration, "fail")["attempts"], 3, "{duration}");
}

#[tokio::test]
async fn a_kill_ends_a_retry_wait_at_once() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "patient",
            "tasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    retry: {type: constant, interval: PT1H, maxAttempt: 2}\n",
        ),
    )
    .await;
    let (status, created) = app
        .post("/api/v1/acme/executions/company.team/patient", json!({}))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["taskRunList"][0]["state"]["current"] == "RETRYING"
    })
    .await;
    let killed = kill(&app, "acme", &id).await;
    assert_eq!(killed["taskRunList"][0]["attempts"], 1, "{killed}");
}

#[tokio::test]
async fn log_levels_labels_and_schedule_inputs_are_applied() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "labelled",
            "labels:\n  team: data\n  tier: gold\ninputs:\n  - id: who\n    type: STRING\n    defaults: nobody\ntasks:\n  - id: quiet\n    type: io.kestra.plugin.core.log.Log\n    logLevel: WARN\n    message: [\"{{ undefined_at_info }}\"]\n    level: INFO\n  - id: loud\n    type: io.kestra.plugin.core.log.Log\n    logLevel: WARN\n    level: ERROR\n    message: kept\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ labels.team }}/{{ labels.tier }}/{{ inputs.who }}\"\n  - id: printed\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ labels }} {{ execution.startDate }}\"\ntriggers:\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n    inputs:\n      who: the schedule\n    labels:\n      tier: silver\n",
        ),
    )
    .await;
    // Started by a caller: the flow's labels, the caller's winning on a key.
    let (status, execution) = app
        .post(
            "/api/v1/acme/executions/company.team/labelled?wait=true&labels=tier:platinum",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(
        execution["labels"],
        json!({"team": "data", "tier": "platinum", "system.correlationId": execution["id"]})
    );
    assert_eq!(
        task_run(&execution, "show")["outputs"]["value"],
        "data/platinum/nobody"
    );
    // Maps print as JSON, dates as Kestra prints them.
    let printed = task_run(&execution, "printed")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let (labels, date) = printed.split_once(' ').unwrap();
    assert_eq!(
        labels,
        format!(
            r#"{{"system":{{"correlationId":"{}"}},"team":"data","tier":"platinum"}}"#,
            execution["id"].as_str().unwrap()
        )
    );
    assert!(
        date.len() == 24 && date.ends_with('Z') && date.as_bytes()[19] == b'.',
        "{date}"
    );
    // The INFO line below logLevel WARN was neither rendered nor kept.
    let id = execution["id"].as_str().unwrap();
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    let messages: Vec<_> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(messages, ["kept"], "{logs}");

    // Started by its schedule: the trigger's inputs and labels.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let scheduled = loop {
        let (_, page) = app
            .get("/api/v1/acme/executions/search?flowId=labelled&state=SUCCESS&size=100")
            .await;
        let found = page["results"]
            .as_array()
            .and_then(|all| all.iter().find(|e| e["trigger"]["id"] == "tick").cloned());
        if let Some(found) = found {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never scheduled: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(scheduled["inputs"], json!({"who": "the schedule"}));
    assert_eq!(
        scheduled["labels"],
        json!({"team": "data", "tier": "silver", "system.correlationId": scheduled["id"]})
    );
}

#[tokio::test]
async fn kestra_properties_aerie_does_not_carry_out_are_refused_by_name() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    for (body, named) in [
        (
            "afterExecution:\n  - id: later\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
            "afterExecution",
        ),
        (
            "checks:\n  - condition: \"{{ true }}\"\n    message: fine\n",
            "checks",
        ),
    ] {
        let source = flow(
            "refused",
            &format!(
                "{body}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
            ),
        );
        let (status, answer) = app
            .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, &source)
            .await;
        assert_eq!(status, 422, "{answer}");
        let text = answer.to_string();
        assert!(
            text.contains(&format!(
                "'{named}' is a Kestra property that Aerie does not support"
            )),
            "{text}"
        );
    }
    let (status, _) = app.get("/api/v1/acme/flows/company.team/refused").await;
    assert_eq!(status, 404, "nothing was saved");
}

/// What a hostile review found about SECRET inputs, each closed: a value
/// with quotes and a line break is masked in its JSON form too, and still
/// refused on its way into a subflow's plain input; a ForEach does not
/// iterate over it (values are stored with their task runs); a typed
/// output's refusal does not quote it; a replay with an edited revision of
/// the flow cannot open it.
#[tokio::test]
async fn secret_inputs_stay_hidden_in_every_form_they_take() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let token = "say \"hi\"\nnow-0123456789";
    let with_task = |id: &str, tasks: &str| {
        format!(
            "id: {id}\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n{tasks}"
        )
    };
    create_flow(
        &app,
        "acme",
        "id: plain-child\nnamespace: company.team\ninputs:\n  - id: s\n    type: STRING\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.s }}\"\n",
    )
    .await;
    let cases = [
        (
            "whole",
            "  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: \"whole {{ inputs | json }}\"\n",
            "SUCCESS",
        ),
        (
            "leaky-subflow",
            "  - id: c\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: plain-child\n    inputs:\n      s: \"{{ inputs.token }}\"\n",
            "FAILED",
        ),
        (
            "each",
            "  - id: e\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"{{ inputs.token }}\"]\n    tasks:\n      - id: i\n        type: io.kestra.plugin.core.log.Log\n        message: \"{{ taskrun.value }}\"\n",
            "FAILED",
        ),
    ];
    for (id, tasks, ends) in cases {
        create_flow(&app, "acme", &with_task(id, tasks)).await;
        let execution = run(
            &app,
            "acme",
            &format!("company.team/{id}"),
            json!({"token": token}),
        )
        .await;
        assert_eq!(execution["state"]["current"], ends, "{id}: {execution}");
        let eid = execution["id"].as_str().expect("id");
        let (_, logs) = app.get(&format!("/api/v1/acme/logs/{eid}")).await;
        let (_, children) = app
            .get("/api/v1/acme/executions/search?namespace=company.team&flowId=plain-child")
            .await;
        for seen in [
            execution.to_string(),
            logs.to_string(),
            children.to_string(),
        ] {
            assert!(!seen.contains("0123456789"), "{id}: {seen}");
        }
        if id == "whole" {
            assert!(logs.to_string().contains("******"), "{logs}");
        }
        if id == "each" {
            assert!(
                logs.to_string()
                    .contains("a ForEach value carries a secret's value"),
                "{logs}"
            );
        }
    }

    // A refused conversion does not quote the (trimmed) value.
    create_flow(
        &app,
        "acme",
        "id: typed\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n  - id: n\n    type: INT\n    value: \"{{ inputs.token }}\"\n",
    )
    .await;
    let typed = run(
        &app,
        "acme",
        "company.team/typed",
        json!({"token": " hunter2-secret "}),
    )
    .await;
    assert_eq!(typed["state"]["current"], "FAILED", "{typed}");
    let (_, logs) = app
        .get(&format!(
            "/api/v1/acme/logs/{}",
            typed["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        logs.to_string().contains("output 'n' is not a valid INT"),
        "{logs}"
    );
    assert!(!logs.to_string().contains("hunter2"), "{logs}");

    // A replay with a new revision of the flow cannot open the value.
    create_flow(
        &app,
        "acme",
        "id: replayed\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.token | length }}\"\n",
    )
    .await;
    let first = run(
        &app,
        "acme",
        "company.team/replayed",
        json!({"token": "typed-by-alice"}),
    )
    .await;
    assert_eq!(task_run(&first, "l")["outputs"]["value"], "14");
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/replayed",
            &app.admin,
            "id: replayed\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.token | upper }}\"\n",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let first_id = first["id"].as_str().expect("id");
    for (query, ends) in [("", "SUCCESS"), ("?revision=2", "FAILED")] {
        let path = format!("/api/v1/acme/executions/{first_id}/replay{query}");
        let (status, again) = app.send(Method::POST, &path, Some(&app.admin), None).await;
        assert_eq!(status, 200, "{again}");
        let again_id = again["id"].as_str().expect("id").to_owned();
        let done = wait_until(&app, "acme", &again_id, Duration::from_secs(10), |e| {
            e["state"]["current"] == ends
        })
        .await;
        assert!(!done.to_string().contains("TYPED-BY-ALICE"), "{done}");
    }
}

/// A flow output's `type` is applied as Kestra applies it: the rendered
/// text becomes the type's value, or the execution fails naming the
/// output; a type Aerie cannot apply is refused when the flow is saved.
#[tokio::test]
async fn flow_outputs_take_their_declared_type() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let typed = |id: &str, value: &str| {
        flow(
            id,
            &format!(
                "inputs:\n  - id: n\n    type: STRING\n    defaults: \"{value}\"\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ inputs.n }}}}\"\noutputs:\n  - id: count\n    type: INT\n    value: \"{{{{ outputs.r.value }}}}\"\n  - id: flag\n    type: BOOLEAN\n    value: \"true\"\n  - id: raw\n    value: \"{{{{ outputs.r.value }}}}\"\n"
            ),
        )
    };
    create_flow(&app, "acme", &typed("typed", "42")).await;
    let execution = run(&app, "acme", "company.team/typed", json!({})).await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(
        execution["outputs"],
        json!({"count": 42, "flag": true, "raw": "42"})
    );
    let failed = run(
        &app,
        "acme",
        "company.team/typed",
        json!({"n": "forty-two"}),
    )
    .await;
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    let id = failed["id"].as_str().expect("id");
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert!(
        logs.to_string()
            .contains("flow outputs: output 'count' is not a valid INT"),
        "{logs}"
    );
    for (output, named) in [
        (
            "  - id: s\n    type: SECRET\n    value: x\n",
            "SECRET flow outputs are not supported",
        ),
        (
            "  - id: m\n    type: MONEY\n    value: x\n",
            "unknown output type",
        ),
        ("  - id: v\n    type: INT\n", "output 'v' needs a value"),
        (
            "  - id: d\n    value: x\n  - id: d\n    value: y\n",
            "output id 'd' is already used",
        ),
    ] {
        let source = flow(
            "refused",
            &format!(
                "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\noutputs:\n{output}"
            ),
        );
        let (status, answer) = app
            .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, &source)
            .await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.to_string().contains(named), "{named}: {answer}");
    }
}

async fn start(app: &TestApp, flow: &str) -> Value {
    let (status, created) = app
        .post(
            &format!("/api/v1/acme/executions/company.team/{flow}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created
}

#[tokio::test]
async fn a_flows_concurrency_limit_queues_cancels_or_fails_past_it() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let sleepy = |id: &str, concurrency: &str, nap: &str| {
        flow(
            id,
            &format!(
                "{concurrency}tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: {nap}\n"
            ),
        )
    };
    create_flow(
        &app,
        "acme",
        &sleepy("queued", "concurrency:\n  limit: 1\n", "PT0.4S"),
    )
    .await;
    create_flow(
        &app,
        "acme",
        &sleepy(
            "cancelled",
            "concurrency: {limit: 1, behavior: CANCEL}\n",
            "PT30S",
        ),
    )
    .await;
    create_flow(
        &app,
        "acme",
        &sleepy(
            "failed",
            "concurrency: {limit: 2, behavior: FAIL}\n",
            "PT30S",
        ),
    )
    .await;
    create_flow(&app, "acme", &sleepy("free", "", "PT0.1S")).await;

    // QUEUE: three executions run one after the other, and the limit
    // holds back no other flow.
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(
            start(&app, "queued").await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let free = run(&app, "acme", "company.team/free", json!({})).await;
    assert_eq!(free["state"]["current"], "SUCCESS");
    let mut ended = Vec::new();
    for id in &queued {
        ended.push(
            wait_until(&app, "acme", id, Duration::from_secs(20), |e| {
                e["state"]["current"] == "SUCCESS"
            })
            .await,
        );
    }
    let mut spans: Vec<_> = ended
        .iter()
        .map(|e| (date_of(e, "RUNNING"), date_of(e, "SUCCESS")))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "two ran at once: {spans:?}");
    }
    assert!(
        date_of(&free, "SUCCESS") < spans[2].0,
        "the free flow waited for the limited one: {spans:?}"
    );

    // An execution waiting behind its flow's limit can still be killed.
    create_flow(
        &app,
        "acme",
        &sleepy("held", "concurrency:\n  limit: 1\n", "PT30S"),
    )
    .await;
    let running = start(&app, "held").await["id"].as_str().unwrap().to_owned();
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "RUNNING"
    })
    .await;
    let waiting = start(&app, "held").await["id"].as_str().unwrap().to_owned();
    for id in [&waiting, &running] {
        kill(&app, "acme", id).await;
    }

    // CANCEL and FAIL: past the limit an execution ends as it is created,
    // runs nothing and takes no slot.
    let first = start(&app, "cancelled").await;
    let refused = start(&app, "cancelled").await;
    assert_eq!(refused["state"]["current"], "CANCELLED", "{refused}");
    assert_eq!(states(&refused), ["CREATED", "CANCELLED"]);
    for _ in 0..2 {
        assert_eq!(start(&app, "failed").await["state"]["current"], "CREATED");
    }
    let failed = start(&app, "failed").await;
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    let refused_id = refused["id"].as_str().unwrap();
    let (_, still) = app
        .get(&format!("/api/v1/acme/executions/{refused_id}"))
        .await;
    assert_eq!(still["state"]["current"], "CANCELLED");
    assert_eq!(still["taskRunList"].as_array().map(Vec::len), Some(0));

    // The limit is the tenant's own: the same flow in another tenant
    // runs beside acme's, and is held to its own limit.
    tenant(&app, "beta").await;
    create_flow(
        &app,
        "beta",
        &sleepy(
            "cancelled",
            "concurrency: {limit: 1, behavior: CANCEL}\n",
            "PT30S",
        ),
    )
    .await;
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, created) = app
            .post("/api/v1/beta/executions/company.team/cancelled", json!({}))
            .await;
        assert_eq!(status, 200, "{created}");
        answers.push(created["state"]["current"].as_str().unwrap().to_owned());
    }
    assert_eq!(answers, ["CREATED", "CANCELLED"]);

    // Once the running one ends, the flow takes a new execution again.
    let first_id = first["id"].as_str().unwrap();
    kill(&app, "acme", first_id).await;
    assert_eq!(
        start(&app, "cancelled").await["state"]["current"],
        "CREATED"
    );
}

#[tokio::test]
async fn webhooks_keep_every_value_render_their_keys_and_honour_conditions() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company.team/secrets/HOOK_KEY",
            json!({"value": "from-a-secret"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let echo = "tasks:\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.parameters.age | join(',') }}|{{ trigger.variables.parameters.name[0] }}\"\n";
    let hook = |key: &str, extra: &str| {
        format!(
            "{echo}triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: \"{key}\"\n{extra}"
        )
    };
    create_flow(&app, "acme", &flow("plain", &hook("plain-key-1", ""))).await;
    create_flow(&app, "acme", &flow("dynamic", &hook("{{ flow.id }}", ""))).await;
    create_flow(
        &app,
        "acme",
        &flow("secretive", &hook("{{ secret('HOOK_KEY') }}", "")),
    )
    .await;
    create_flow(
        &app,
        "acme",
        &flow(
            "guarded",
            &hook(
                "guarded-key-1",
                "    conditions:\n      - type: io.kestra.plugin.core.condition.ExpressionCondition\n        expression: \"{{ trigger.body.hello == 'world' }}\"\n",
            ),
        ),
    )
    .await;
    let call = |method: reqwest::Method, flow: &str, key: &str| {
        app.client.request(
            method,
            app.url(&format!(
                "/api/v1/acme/executions/webhook/company.team/{flow}/{key}?wait=true&name=john&age=12&age=13"
            )),
        )
    };

    // Repeated parameters keep every value; a GET has a null body.
    let (status, execution) = crate::app::read(
        call(Method::GET, "plain", "plain-key-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(
        execution["trigger"]["parameters"]["age"],
        json!(["12", "13"])
    );
    assert_eq!(execution["trigger"]["body"], Value::Null);
    assert_eq!(
        execution["trigger"]["variables"]["parameters"]["name"],
        json!(["john"])
    );
    assert_eq!(
        task_run(&execution, "out")["outputs"]["value"],
        "12,13|john"
    );

    // Templated keys: the flow's id, a secret of its tenant.
    for (flow, key) in [("dynamic", "dynamic"), ("secretive", "from-a-secret")] {
        let (status, execution) =
            crate::app::read(call(Method::POST, flow, key).send().await.unwrap()).await;
        assert_eq!(status, 200, "{flow}: {execution}");
        let (status, _) = crate::app::read(
            call(Method::POST, flow, "{{ flow.id }}")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 404, "the template itself is no key");
    }
    // Another tenant's secret of the same name is not the key there.
    tenant(&app, "beta").await;
    create_flow(
        &app,
        "beta",
        &flow("secretive", &hook("{{ secret('HOOK_KEY') }}", "")),
    )
    .await;
    let (status, _) = crate::app::read(
        app.client
            .post(app.url("/api/v1/beta/executions/webhook/company.team/secretive/from-a-secret"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    // A false condition starts nothing and answers 204.
    let (status, _) = crate::app::read(
        call(Method::POST, "guarded", "guarded-key-1")
            .json(&json!({"hello": "webhook"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 204);
    let (_, page) = app
        .get("/api/v1/acme/executions/search?flowId=guarded")
        .await;
    assert_eq!(page["total"], 0, "{page}");
    let (status, execution) = crate::app::read(
        call(Method::POST, "guarded", "guarded-key-1")
            .json(&json!({"hello": "world"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], "SUCCESS");
}

#[tokio::test]
async fn kestras_input_types_are_checked_when_an_execution_starts() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "typed",
            "inputs:\n  - name: colour\n    type: ENUM\n    values: [red, blue]\n  - id: picks\n    type: MULTISELECT\n    values: [a, b, c]\n  - id: sizes\n    type: ARRAY\n    itemType: INT\n  - id: day\n    type: DATE\n    defaults: 2026-01-31\n  - id: code\n    type: STRING\n    validator: \"[A-Z]{3}\"\n  - id: raw\n    type: YAML\n    required: false\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.colour }} {{ inputs.picks | join('+') }} {{ inputs.sizes | sum }} {{ inputs.day }} {{ inputs.code }}\"\n",
        ),
    )
    .await;
    let execution = run(
        &app,
        "acme",
        "company.team/typed",
        json!({"colour": "blue", "picks": ["a", "c"], "sizes": "[1, 2, 3]", "code": "ABC", "raw": "k: [1]"}),
    )
    .await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(
        task_run(&execution, "show")["outputs"]["value"],
        "blue a+c 6 2026-01-31 ABC"
    );
    assert_eq!(execution["inputs"]["raw"], json!({"k": [1]}));

    let (status, answer) = app
        .post(
            "/api/v1/acme/executions/company.team/typed",
            json!({"colour": "green", "picks": ["z"], "sizes": ["x"], "code": "abcd"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let text = answer.to_string();
    for expected in [
        "input 'colour': 'green' is not one of red, blue",
        "input 'picks': 'z' is not one of a, b, c",
        "input 'sizes': item 0",
        "input 'code': 'abcd' does not match the validator",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
}

/// InputsTest's bounded inputs: `after`/`before` on DATE, DATETIME and
/// TIME, `min`/`max` on INT, FLOAT and DURATION, inclusive, refused at
/// start in Kestra's words.
#[tokio::test]
async fn bounded_inputs_refuse_values_outside_their_bounds_in_kestras_words() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "bounded",
            "inputs:
  - id: day
    type: DATE
    after: 2023-01-01
    before: 2023-12-31
  - id: at
    type: DATETIME
    after: \"2023-01-01T00:00:00Z\"
    required: false
  - id: hour
    type: TIME
    before: \"11:59:59\"
    required: false
  - id: wait
    type: DURATION
    min: PT10S
    max: PT20S
    required: false
  - id: n
    type: INT
    min: 10
    required: false
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ inputs.day }} {{ inputs.wait }}\"
",
        ),
    )
    .await;
    let execution = run(
        &app,
        "acme",
        "company.team/bounded",
        json!({"day": "2023-12-31", "at": "2023-01-01T00:00:00Z", "hour": "11:59:59", "wait": "PT10S", "n": 10}),
    )
    .await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(
        task_run(&execution, "show")["outputs"]["value"],
        "2023-12-31 PT10S"
    );

    let (status, answer) = app
        .post(
            "/api/v1/acme/executions/company.team/bounded",
            json!({"day": "2024-01-01", "at": "2022-12-31T23:59:59Z", "hour": "12:00", "wait": "PT21S", "n": 9}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let text = answer.to_string();
    for expected in [
        "input 'day': it must be before `2023-12-31`",
        "input 'at': it must be after `2023-01-01T00:00:00Z`",
        "input 'hour': it must be before `11:59:59`",
        "input 'wait': it must be less than `PT20S`",
        "input 'n': it must be more than `10`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    // Nothing was started by the refused call.
    let (_, list) = app
        .get("/api/v1/acme/executions/search?flowId=bounded")
        .await;
    assert_eq!(list["total"], 1, "{list}");
}

/// Kestra's input-log-secret.yaml (InputsTest.shouldNotLogSecretInput),
/// plus what Aerie adds: the value is sealed in the execution row (the API
/// shows ciphertext, as Kestra's shows it encrypted), opened for the tasks,
/// masked in logs and outputs, never echoed in a refusal, and sealed for
/// its flow: a sealed value sent to another flow does not open there.
#[tokio::test]
async fn a_secret_input_is_sealed_at_rest_masked_in_logs_and_opened_for_tasks() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: input-log-secret\nnamespace: company.team\ninputs:\n  - id: secret\n    type: SECRET\n    defaults: password\n  - id: token\n    type: SECRET\n    required: false\n    validator: \"^[a-z0-9-]+$\"\ntasks:\n  - id: log-secret\n    type: io.kestra.plugin.core.log.Log\n    message: \"This is my secret: {{inputs.secret}}\"\n  - id: tag\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      who: \"{{ inputs.secret }}\"\n  - id: seen\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.secret | length }} {{ inputs.token | length }} {{ inputs.token }}\"\n",
    )
    .await;
    let execution = run(
        &app,
        "acme",
        "company.team/input-log-secret",
        json!({"token": "tok-0123456789"}),
    )
    .await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    // The tasks saw the plain values (8 and 14 characters); what they wrote
    // masks them.
    assert_eq!(
        task_run(&execution, "seen")["outputs"]["value"],
        "8 14 ******"
    );
    let id = execution["id"].as_str().expect("id");
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    let messages: Vec<&str> = logs
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"This is my secret: ******"),
        "{messages:?}"
    );
    // At rest and over the API: ciphertext, never the value.
    let (_, stored) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
    let everything = stored.to_string();
    for plain in ["password", "tok-0123456789"] {
        assert!(!everything.contains(plain), "{plain} in {everything}");
    }
    assert_eq!(stored["labels"]["who"], "******", "labels are masked too");
    let sealed = stored["inputs"]["token"].as_str().expect("sealed text");
    assert!(sealed.len() > 40, "{sealed}");

    // A refusal does not echo the value.
    let (status, answer) = app
        .post(
            "/api/v1/acme/executions/company.team/input-log-secret",
            json!({"token": "Not-Valid!"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(!answer.to_string().contains("Not-Valid!"), "{answer}");
    assert!(
        answer
            .to_string()
            .contains("input 'token': the value does not match the validator"),
        "{answer}"
    );

    // Sent as the value of another flow's SECRET input, the sealed text is
    // just text: sealed again for that flow, it is never opened as the
    // first flow's secret.
    create_flow(
        &app,
        "acme",
        "id: other\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: seen\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.token | length }}\"\n",
    )
    .await;
    let other = run(&app, "acme", "company.team/other", json!({"token": sealed})).await;
    assert_eq!(
        task_run(&other, "seen")["outputs"]["value"],
        sealed.len().to_string()
    );

    // A secret input's value goes on into a subflow's SECRET input (sealed
    // there), never into a plain one, where it would be stored as given.
    for (id, input, ends) in [
        ("into-secret", "token", "SUCCESS"),
        ("into-plain", "plain", "FAILED"),
    ] {
        create_flow(
            &app,
            "acme",
            &format!("id: {id}\nnamespace: company.team\ninputs:\n  - id: secret\n    type: SECRET\n    defaults: password\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: receiver\n    wait: true\n    inputs:\n      {input}: \"{{{{ inputs.secret }}}}\"\n"),
        )
        .await;
        if id == "into-secret" {
            create_flow(
                &app,
                "acme",
                "id: receiver\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\n    required: false\n  - id: plain\n    type: STRING\n    required: false\ntasks:\n  - id: seen\n    type: io.kestra.plugin.core.log.Log\n    message: \"got {{ inputs.token }}\"\n",
            )
            .await;
        }
        let parent = run(&app, "acme", &format!("company.team/{id}"), json!({})).await;
        assert_eq!(parent["state"]["current"], ends, "{id}: {parent}");
        assert!(!parent.to_string().contains("password"), "{parent}");
    }
}

/// Kestra's own switch.yaml (core/src/test/resources/flows/valids).
const KESTRA_SWITCH: &str = r#"id: switch
namespace: io.kestra.tests

inputs:
  - id: string
    type: STRING
  - id: def
    type: STRING
    defaults: amazing

labels:
  switchFlowLabel: switchFoo

tasks:
  - id: parent-seq
    type: io.kestra.plugin.core.flow.Switch
    value: "{{inputs.string}}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
      SECOND:
        - id: t2
          type: io.kestra.plugin.core.debug.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
        - id: t2_sub
          type: io.kestra.plugin.core.debug.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
      THIRD:
        - id: t3
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: failed
              type: io.kestra.plugin.core.execution.Fail
          errors:
            - id: error-t1
              type: io.kestra.plugin.core.debug.Return
              format: "Error Trigger ! {{task.id}}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{task.id}} > {{ inputs.def }} > {{taskrun.startDate}}"

triggers:
  - id: schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"#;

#[tokio::test]
async fn kestras_switch_flow_takes_the_case_its_tests_expect() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", KESTRA_SWITCH).await;
    let ran = |execution: &Value| -> Vec<String> {
        execution["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["taskId"].as_str().unwrap().to_owned())
            .collect()
    };
    for (value, tasks, defaults) in [
        ("FIRST", vec!["parent-seq", "t1"], false),
        ("SECOND", vec!["parent-seq", "t2", "t2_sub"], false),
        (
            "THIRD",
            vec!["parent-seq", "t3", "failed", "error-t1"],
            false,
        ),
        ("NOPE", vec!["parent-seq", "default"], true),
    ] {
        let execution = run(
            &app,
            "acme",
            "io.kestra.tests/switch",
            json!({"string": value}),
        )
        .await;
        let mut got = ran(&execution);
        got.sort();
        let mut want: Vec<String> = tasks.iter().map(|t| (*t).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{value}: {execution}");
        let switch = task_run(&execution, "parent-seq");
        assert_eq!(switch["outputs"]["value"], value);
        assert_eq!(switch["outputs"]["defaults"], defaults);
    }
    let execution = run(
        &app,
        "acme",
        "io.kestra.tests/switch",
        json!({"string": "NOPE"}),
    )
    .await;
    let printed = task_run(&execution, "default")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(printed.starts_with("default > amazing > 20"), "{printed}");
}

/// Kestra's own labels-update-task.yml.
const KESTRA_LABELS: &str = r#"id: labels-update-task
namespace: io.kestra.tests
labels:
  flowLabelKey: flowLabelValue
  overriddenFlowLabelKey: flowValueThatWillGetOverridden
inputs:
  - id: labelsJson
    type: JSON
  - id: labelsMapKey
    type: STRING
  - id: labelsMapValue
    type: STRING
  - id: labelsListKey
    type: STRING
  - id: labelsListValue
    type: STRING
tasks:
  - id: from-render
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{ inputs.labelsJson }}"
  - id: from-map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      "{{ inputs.labelsMapKey }}": "{{ inputs.labelsMapValue }}"
  - id: from-list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: "{{ inputs.labelsListKey }}"
        value: "{{ inputs.labelsListValue }}"
  - id: override-labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      overriddenFlowLabelKey: "{{ flow.namespace ~ '.' ~ flow.id }}"
      overriddenExecutionLabelKey: "{{ taskrun.id }}"
"#;

#[tokio::test]
async fn kestras_labels_flow_leaves_the_labels_its_test_expects() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", KESTRA_LABELS).await;
    let (status, execution) = app
        .post(
            "/api/v1/acme/executions/io.kestra.tests/labels-update-task?wait=true&labels=keyFromExecution:valueFromExecution&labels=overriddenExecutionLabelKey:executionValueThatWillGetOverridden",
            json!({
                "labelsJson": "{\"keyFromJson\": \"valueFromJson\"}",
                "labelsMapKey": "keyFromMap",
                "labelsMapValue": "valueFromMap",
                "labelsListKey": "keyFromList",
                "labelsListValue": "valueFromList",
            }),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(execution["taskRunList"].as_array().map(Vec::len), Some(4));
    let overrider = task_run(&execution, "override-labels")["id"].clone();
    assert_eq!(
        execution["labels"],
        json!({
            "system.correlationId": execution["id"],
            "flowLabelKey": "flowLabelValue",
            "overriddenFlowLabelKey": "io.kestra.tests.labels-update-task",
            "keyFromJson": "valueFromJson",
            "keyFromMap": "valueFromMap",
            "keyFromList": "valueFromList",
            "keyFromExecution": "valueFromExecution",
            "overriddenExecutionLabelKey": overrider,
        })
    );
}

#[tokio::test]
async fn error_logs_and_current_each_output_read_what_kestra_gives_them() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "pebble",
            "tasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\"]\n    tasks:\n      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}-x\"\n      - id: again\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ currentEachOutput(outputs.ret).value }}\"\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: it broke\nerrors:\n  - id: report\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ errorLogs() | length }} {{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }}\"\n",
        ),
    )
    .await;
    let execution = run(&app, "acme", "company.team/pebble", json!({})).await;
    assert_eq!(execution["state"]["current"], "FAILED", "{execution}");
    let again: Vec<&Value> = execution["taskRunList"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["taskId"] == "again")
        .map(|r| &r["outputs"]["value"])
        .collect();
    assert_eq!(again.len(), 2);
    assert!(
        again.contains(&&json!("a-x")) && again.contains(&&json!("b-x")),
        "{again:?}"
    );
    assert_eq!(
        task_run(&execution, "report")["outputs"]["value"],
        "1 boom: it broke"
    );
}

#[tokio::test]
async fn plugin_defaults_apply_to_the_tasks_and_triggers_that_run() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        &flow(
            "defaulted",
            "pluginDefaults:\n  - type: io.kestra.plugin.core.debug.Return\n    values:\n      format: from the default\n  - type: io.kestra.plugin.core.debug\n    forced: true\n    values:\n      allowFailure: true\n  - type: io.kestra.plugin.core.trigger.Webhook\n    values:\n      key: defaulted-key\ntaskDefaults:\n  - type: io.kestra.plugin.core.execution.Fail\n    values:\n      errorMessage: failed by default\ntasks:\n  - id: plain\n    type: io.kestra.plugin.core.debug.Return\n  - id: own\n    type: io.kestra.plugin.core.debug.Return\n    format: its own\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n",
        ),
    )
    .await;
    let execution = run(&app, "acme", "company.team/defaulted", json!({})).await;
    assert_eq!(execution["state"]["current"], "FAILED", "{execution}");
    assert_eq!(
        task_run(&execution, "plain")["outputs"]["value"],
        "from the default"
    );
    assert_eq!(task_run(&execution, "own")["outputs"]["value"], "its own");
    let id = execution["id"].as_str().expect("id");
    let (status, logs) = app
        .get(&format!("/api/v1/acme/logs/{id}?minLevel=ERROR"))
        .await;
    assert_eq!(status, 200);
    assert!(logs.to_string().contains("failed by default"), "{logs}");
    // The webhook's key came from a default: the stored trigger has it.
    let (status, started) = app
        .post(
            "/api/v1/acme/executions/webhook/company.team/defaulted/defaulted-key",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
}

/// Flow SLAs, as Kestra's sla-* test flows use them: a MAX_DURATION SLA
/// ends a run that is too long FAILED or CANCELLED (its running task
/// KILLED), or only adds its labels (NONE); an EXECUTION_ASSERTION SLA
/// is checked at the end; a paused execution is woken at the deadline.
#[tokio::test]
async fn slas_fail_cancel_or_label_an_execution_that_breaks_them() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let sleep =
        "tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n";
    let sla = |behavior: &str, extra: &str| {
        format!(
            "sla:\n  - id: quick\n    type: MAX_DURATION\n    behavior: {behavior}\n    duration: PT0.3S\n{extra}"
        )
    };
    create_flow(
        &app,
        "acme",
        &flow("fails", &format!("{}{sleep}", sla("FAIL", ""))),
    )
    .await;
    create_flow(
        &app,
        "acme",
        &flow("cancels", &format!("{}{sleep}", sla("CANCEL", ""))),
    )
    .await;
    let labelled = format!(
        "{}tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.8S\n",
        sla("NONE", "    labels:\n      sla: late\n")
    );
    create_flow(&app, "acme", &flow("labelled", &labelled)).await;
    let paused = format!(
        "{}tasks:\n  - id: hold\n    type: io.kestra.plugin.core.flow.Pause\n",
        sla("FAIL", "")
    );
    create_flow(&app, "acme", &flow("paused", &paused)).await;
    let asserted = "inputs:\n  - id: ok\n    type: BOOLEAN\nsla:\n  - id: checked\n    type: EXECUTION_ASSERTION\n    behavior: CANCEL\n    assert: \"{{ inputs.ok }}\"\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n";
    create_flow(&app, "acme", &flow("asserted", asserted)).await;

    for (id, state) in [
        ("fails", "FAILED"),
        ("cancels", "CANCELLED"),
        ("paused", "FAILED"),
    ] {
        let started = std::time::Instant::now();
        let done = run(&app, "acme", &format!("company.team/{id}"), json!({})).await;
        assert_eq!(done["state"]["current"], state, "{done}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{id} was not stopped at its SLA"
        );
        let first = &done["taskRunList"][0];
        assert_eq!(first["state"]["current"], "KILLED", "{done}");
        let (_, logs) = app
            .get(&format!(
                "/api/v1/acme/logs/{}",
                done["id"].as_str().expect("id")
            ))
            .await;
        assert!(
            logs.to_string().contains(
                "SLA 'quick' violated: the execution ran longer than its maximum duration (PT0.3S)"
            ),
            "{logs}"
        );
    }
    let done = run(&app, "acme", "company.team/labelled", json!({})).await;
    assert_eq!(done["state"]["current"], "SUCCESS", "{done}");
    assert_eq!(done["labels"]["sla"], "late", "{done}");
    // A NONE SLA fires once: woken at the deadline while paused, then
    // resumed, the execution logs the violation a single time.
    let waiting = format!(
        "{}tasks:\n  - id: hold\n    type: io.kestra.plugin.core.flow.Pause\n",
        sla("NONE", "    labels:\n      sla: late\n")
    );
    create_flow(&app, "acme", &flow("waiting", &waiting)).await;
    let (status, started) = app
        .post("/api/v1/acme/executions/company.team/waiting", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["labels"]["sla"] == "late" && e["state"]["current"] == "PAUSED"
    })
    .await;
    let (status, body) = app
        .post(&format!("/api/v1/acme/executions/{id}/resume"), json!({}))
        .await;
    assert!(matches!(status, 200 | 204), "{status} {body}");
    wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert_eq!(
        logs.to_string().matches("SLA 'quick' violated").count(),
        1,
        "{logs}"
    );
    let kept = run(&app, "acme", "company.team/asserted", json!({"ok": true})).await;
    assert_eq!(kept["state"]["current"], "SUCCESS", "{kept}");
    let broken = run(&app, "acme", "company.team/asserted", json!({"ok": false})).await;
    assert_eq!(broken["state"]["current"], "CANCELLED", "{broken}");
    assert_eq!(task_run(&broken, "hello")["state"]["current"], "SUCCESS");

    // Refused by name when written wrong, never accepted and ignored.
    let (status, body) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            &flow("bad", &format!("sla:\n  - id: x\n    type: MAX_DURATION\n    behavior: WARN\n    duration: PT1S\n{sleep}")),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("FAIL, CANCEL or NONE"),
        "{body}"
    );
}

/// `retry.behavior: CREATE_NEW_EXECUTION` (Kestra's retry-new-execution-*
/// flows): the failed execution ends RETRIED and a new one of the same
/// flow, with the same inputs and labels, starts after the interval; the
/// attempts count across executions, so the last ends FAILED.
#[tokio::test]
async fn a_retry_in_a_new_execution_ends_the_failed_one_retried() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let body = "inputs:\n  - id: who\n    type: STRING\nlabels:\n  team: data\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    retry:\n      behavior: CREATE_NEW_EXECUTION\n      type: constant\n      maxAttempt: 3\n      interval: PT0.5S\n";
    create_flow(&app, "acme", &flow("again", body)).await;
    let first = run(&app, "acme", "company.team/again", json!({"who": "ada"})).await;
    assert_eq!(first["state"]["current"], "RETRIED", "{first}");
    let ended_at = date_of(&first, "RETRIED");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let all = loop {
        let (_, found) = app
            .get("/api/v1/acme/executions/search?flowId=again&size=10&sort=created:asc")
            .await;
        let all = found["results"].as_array().cloned().unwrap_or_default();
        let ended = all
            .iter()
            .filter(|e| {
                ["RETRIED", "FAILED"].contains(&e["state"]["current"].as_str().unwrap_or(""))
            })
            .count();
        if all.len() == 3 && ended == 3 {
            break all;
        }
        assert!(std::time::Instant::now() < deadline, "{all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let states: Vec<&str> = all
        .iter()
        .map(|e| e["state"]["current"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["RETRIED", "RETRIED", "FAILED"]);
    // Kestra's metadata: the attempt, and the first attempt's creation.
    let attempts: Vec<&Value> = all
        .iter()
        .map(|e| &e["metadata"]["attemptNumber"])
        .collect();
    assert_eq!(attempts, [&json!(1), &json!(2), &json!(3)]);
    assert!(
        all.iter()
            .all(|e| e["metadata"]["originalCreatedDate"]
                == first["metadata"]["originalCreatedDate"]),
        "{all:?}"
    );
    let second = &all[1];
    assert_eq!(second["inputs"]["who"], "ada", "{second}");
    assert_eq!(second["labels"]["team"], "data", "{second}");
    // The interval passed before the new attempt ran.
    let started = date_of(second, "RUNNING");
    assert!(
        started - ended_at >= chrono::TimeDelta::milliseconds(450),
        "{ended_at} -> {started}"
    );
    let (_, logs) = app
        .get(&format!(
            "/api/v1/acme/logs/{}",
            all[2]["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        logs.to_string()
            .contains("attempt 3 failed; the retry policy allows no more executions"),
        "{logs}"
    );
}

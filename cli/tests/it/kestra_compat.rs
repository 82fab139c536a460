//! The Kestra compatibility suite: every flow of Kestra's own test set
//! (`cli/tests/kestra-compat/flows`, see its README for the commit), created
//! in one tenant, and each one that Kestra's Java tests run once and check
//! run here and checked the same way (`expectations.json`).
//!
//! What a flow must do here is one of:
//! - `run`: be accepted, run once with the test's inputs, and end as the
//!   Java test asserts (state, number of task runs, outputs);
//! - `refused`: be refused at creation with a message containing the text
//!   given, which names the part Aerie does not support;
//! - `created`: be accepted; what Kestra's test does with it (restart,
//!   resume, triggers, several executions...) is covered by Aerie's own
//!   tests named in `covered`, or is said in `why`.
//!
//! The suite prints its tally, and fails on any flow that does otherwise.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::tenant;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    file: String,
    /// The Java test(s) the expectation comes from.
    #[serde(default)]
    java: String,
    #[serde(default)]
    run: Option<Run>,
    #[serde(default)]
    refused: Option<String>,
    #[serde(default)]
    created: bool,
    /// A scenario of several calls, as the Java test makes them.
    #[serde(default)]
    steps: Vec<Step>,
    /// Why the flow is not run here, or what differs.
    #[serde(default)]
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
    state: String,
    #[serde(default, rename = "taskRuns")]
    task_runs: Option<usize>,
    #[serde(default)]
    outputs: Vec<OutputCheck>,
    /// Labels the execution must end with.
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
    /// The states all executions of the flow end in, in any order, when
    /// the run starts others (retries in new executions).
    #[serde(default, rename = "allExecutions")]
    all_executions: Vec<String>,
    /// The same flow run again with other inputs (the Java test's other
    /// cases), each checked the same way.
    #[serde(default)]
    also: Vec<Run>,
    /// FILE inputs, uploaded: the input id and a number of lines, written
    /// as Kestra's ForEachItemCaseTest writes its file (each line the
    /// line's number, right-aligned in 20 characters).
    #[serde(default)]
    files: serde_json::Map<String, Value>,
    /// The subflow executions the run started (found by its correlation
    /// id), as the Java test counts and checks them.
    #[serde(default)]
    subflows: Option<Subflows>,
    /// Files named by an output, and how many lines each must hold.
    #[serde(default, rename = "fileLines")]
    file_lines: Vec<FileLines>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Subflows {
    /// `namespace/id` of the subflow.
    flow: String,
    count: usize,
    /// The state each ends in.
    state: String,
    /// The task runs each has.
    task_runs: usize,
    /// Text the subflow's `items` input contains.
    #[serde(default)]
    items_contain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLines {
    task: String,
    key: String,
    lines: usize,
}

/// One call of a scenario, or one wait-and-check. `start`, `webhook`
/// and `other` make their execution the current one; the others act on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Step {
    /// Starts the flow with these inputs.
    #[serde(default)]
    start: Option<serde_json::Map<String, Value>>,
    /// The flow `start` starts (`namespace/id`) when not the file's own.
    #[serde(default)]
    flow: Option<String>,
    /// A flow (`namespace/id`) no execution of which may have started
    /// (checked after a second, as Kestra's tests wait).
    #[serde(default)]
    absent: Option<String>,
    /// Calls the flow's webhook: `{method, key, query, body}`.
    #[serde(default)]
    webhook: Option<Value>,
    /// The HTTP status the call answers (default 200).
    #[serde(default)]
    status: Option<u16>,
    /// `restart`, `resume` or `kill` of the current execution.
    #[serde(default)]
    act: Option<String>,
    /// The body of a `restart` or `resume` (default `{}`): a resume's
    /// `onResume` inputs.
    #[serde(default)]
    with: Option<serde_json::Map<String, Value>>,
    /// Waits for the current execution to reach this state (default: its
    /// end), then checks `expect`.
    #[serde(default)]
    until: Option<String>,
    /// An execution of another flow (`namespace/id`), started by a
    /// trigger: waits for it and makes it the current one.
    #[serde(default)]
    other: Option<String>,
    #[serde(default)]
    expect: Option<Check>,
}

/// What a step checks of the current execution.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Check {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    task_runs: Option<usize>,
    #[serde(default)]
    outputs: Vec<OutputCheck>,
    /// The execution's state history starts so.
    #[serde(default)]
    history: Vec<String>,
    /// Attempts of a task run (`{task: n}`).
    #[serde(default)]
    attempts: serde_json::Map<String, Value>,
    /// Trigger variables (`trigger.variables.<key>`), `$first` meaning the
    /// first execution of the scenario's id, `$started` the execution the
    /// last `start` started.
    #[serde(default)]
    trigger: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputCheck {
    task: String,
    /// The iteration's value, for a task inside a ForEach; inside nested
    /// loops, every loop's value, outermost first (the task run shows its
    /// own, the last).
    #[serde(default)]
    value: Option<Value>,
    /// An output's name, or a dotted path into it (`values.output1`).
    key: String,
    equals: Value,
    /// `equals` is text the output must contain (Kestra's
    /// `containsString`), not the whole value.
    #[serde(default)]
    contains: bool,
}

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kestra-compat")
}

fn expectations() -> Vec<Expectation> {
    let text = std::fs::read_to_string(suite_dir().join("expectations.json"))
        .expect("read expectations.json");
    serde_json::from_str(&text).expect("parse expectations.json")
}

fn flow_key(source: &str) -> (String, String) {
    let field = |name: &str| {
        source
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("no {name} in {source}"))
    };
    (field("namespace"), field("id"))
}

/// Where a finished run differs from what Kestra's test asserts.
fn differences(run: &Run, execution: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in &run.labels {
        if &execution["labels"][key.as_str()] != value {
            found.push(format!(
                "label {key} is {}, Kestra's test expects {value}",
                execution["labels"][key.as_str()]
            ));
        }
    }
    let state = execution["state"]["current"].as_str().unwrap_or_default();
    if state != run.state {
        found.push(format!(
            "ended {state}, Kestra's test expects {}",
            run.state
        ));
    }
    let runs = execution["taskRunList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(count) = run.task_runs
        && runs.len() != count
    {
        found.push(format!(
            "{} task runs, Kestra's test expects {count}",
            runs.len()
        ));
    }
    for check in &run.outputs {
        let own_value = match &check.value {
            Some(Value::Array(values)) => values.last().cloned(),
            other => other.clone(),
        };
        let output = |r: &Value| {
            check
                .key
                .split('.')
                .fold(r["outputs"].clone(), |at, step| at[step].clone())
        };
        // The runs of that task (in that iteration); one of them must show it.
        let actual: Vec<Value> = runs
            .iter()
            .filter(|r| r["taskId"] == check.task.as_str())
            .filter(|r| own_value.as_ref().is_none_or(|v| &r["value"] == v))
            .map(output)
            .collect();
        let shown = if check.contains {
            actual.iter().any(|a| {
                a.as_str()
                    .zip(check.equals.as_str())
                    .is_some_and(|(a, e)| a.contains(e))
            })
        } else {
            actual.contains(&check.equals)
        };
        if !shown {
            found.push(format!(
                "output {}{}.{} is {:?}, Kestra's test expects {}",
                check.task,
                check
                    .value
                    .as_ref()
                    .map(|v| format!("[{v}]"))
                    .unwrap_or_default(),
                check.key,
                actual,
                check.equals
            ));
        }
    }
    found
}

/// The file ForEachItemCaseTest uploads, `lines` lines long.
fn kestra_items(lines: u64) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("{i:>20}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Starts `flow` with `inputs` (and `files`, uploaded) and polls it until
/// it ends.
async fn run_to_end(
    app: &TestApp,
    namespace: &str,
    id: &str,
    inputs: &Value,
    files: &serde_json::Map<String, Value>,
) -> Value {
    let path = format!("/api/v1/compat/executions/{namespace}/{id}");
    let (status, started) = if files.is_empty() {
        app.post(&path, inputs.clone()).await
    } else {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in inputs.as_object().into_iter().flatten() {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            form = form.text(name.clone(), text);
        }
        for (name, lines) in files {
            let content = kestra_items(lines.as_u64().unwrap_or(0));
            form = form.part(
                name.clone(),
                reqwest::multipart::Part::bytes(content).file_name("file.txt"),
            );
        }
        app.post_form(&path, form).await
    };
    if status != 200 {
        return json!({"state": {"current": format!("not started: {status} {started}")}});
    }
    let execution_id = started["id"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, body) = app
            .get(&format!("/api/v1/compat/executions/{execution_id}"))
            .await;
        let state = body["state"]["current"].as_str().unwrap_or_default();
        let ended = [
            "SUCCESS",
            "WARNING",
            "FAILED",
            "KILLED",
            "CANCELLED",
            "SKIPPED",
            "RETRIED",
        ]
        .contains(&state);
        if ended || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// States an execution does not leave on its own.
const ENDED: [&str; 7] = [
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "SKIPPED",
    "RETRIED",
];

/// Polls an execution until `done` holds, for up to a minute.
async fn poll(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = app.get(&format!("/api/v1/compat/executions/{id}")).await;
        if done(&body) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Plays one scenario; the first difference with Kestra's test is the
/// error.
async fn scenario(app: &TestApp, namespace: &str, id: &str, steps: &[Step]) -> Result<(), String> {
    let mut current = String::new();
    let mut first = String::new();
    let mut started = String::new();
    for (n, step) in steps.iter().enumerate() {
        let at = |what: String| format!("step {}: {what}", n + 1);
        let expected_status = step.status.unwrap_or(200);
        if let Some(inputs) = &step.start {
            let flow = step
                .flow
                .clone()
                .unwrap_or_else(|| format!("{namespace}/{id}"));
            let (status, body) = app
                .post(
                    &format!("/api/v1/compat/executions/{flow}"),
                    Value::Object(inputs.clone()),
                )
                .await;
            if status != expected_status {
                return Err(at(format!("start answered {status} {body}")));
            }
            current = body["id"].as_str().unwrap_or_default().to_owned();
            started.clone_from(&current);
        }
        if let Some(call) = &step.webhook {
            let method =
                reqwest::Method::from_bytes(call["method"].as_str().unwrap_or("POST").as_bytes())
                    .expect("method");
            let url = app.url(&format!(
                "/api/v1/compat/executions/webhook/{namespace}/{id}/{}?{}",
                call["key"].as_str().unwrap_or_default(),
                call["query"].as_str().unwrap_or_default()
            ));
            let mut request = app.client.request(method, url);
            if !call["body"].is_null() {
                request = request.json(&call["body"]);
            }
            let response = request.send().await.expect("webhook");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if status != expected_status {
                return Err(at(format!("the webhook answered {status} {text}")));
            }
            if status == 200 {
                let body: Value = serde_json::from_str(&text).unwrap_or_default();
                current = body["id"].as_str().unwrap_or_default().to_owned();
            }
        }
        if let Some(other) = &step.other {
            let (other_namespace, other_id) = other.split_once('/').expect("namespace/id");
            let deadline = Instant::now() + Duration::from_secs(30);
            current = loop {
                let (_, found) = app
                    .get(&format!(
                        "/api/v1/compat/executions/search?namespace={other_namespace}&flowId={other_id}&size=10"
                    ))
                    .await;
                if let Some(found) = found["results"].as_array().and_then(|r| r.first()) {
                    break found["id"].as_str().unwrap_or_default().to_owned();
                }
                if Instant::now() > deadline {
                    return Err(at(format!("no execution of {other} started")));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
        }
        if first.is_empty() {
            first.clone_from(&current);
        }
        if let Some(absent) = &step.absent {
            let (absent_namespace, absent_id) = absent.split_once('/').expect("namespace/id");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (_, found) = app
                .get(&format!(
                    "/api/v1/compat/executions/search?namespace={absent_namespace}&flowId={absent_id}&size=10"
                ))
                .await;
            if found["total"].as_u64() != Some(0) {
                return Err(at(format!(
                    "{absent} started, Kestra's test expects it not to: {found}"
                )));
            }
        }
        if let Some(act) = &step.act {
            let (method, path) = match act.as_str() {
                "restart" => (reqwest::Method::POST, "restart"),
                "resume" => (reqwest::Method::POST, "resume"),
                "kill" => (reqwest::Method::DELETE, "kill"),
                // Back to the scenario's first execution.
                "first" => {
                    current.clone_from(&first);
                    (reqwest::Method::GET, "")
                }
                other => return Err(at(format!("unknown act {other}"))),
            };
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            let (status, body) = app
                .send(
                    method,
                    &format!("/api/v1/compat/executions/{current}{path}"),
                    Some(&app.admin),
                    (path.starts_with("/re"))
                        .then(|| Value::Object(step.with.clone().unwrap_or_default())),
                )
                .await;
            let as_expected = match step.status {
                Some(expected) => status == expected,
                None => matches!(status, 200 | 202 | 204),
            };
            if !as_expected {
                return Err(at(format!("{act} answered {status} {body}")));
            }
        }
        if step.until.is_some() || step.expect.is_some() {
            let until = step.until.clone();
            let execution = poll(app, &current, |e| {
                let state = e["state"]["current"].as_str().unwrap_or_default();
                match &until {
                    Some(wanted) => state == wanted,
                    None => ENDED.contains(&state),
                }
            })
            .await;
            let check = step.expect.as_ref();
            let mut found = Vec::new();
            let state = execution["state"]["current"].as_str().unwrap_or_default();
            if let Some(wanted) = &step.until
                && state != wanted
            {
                found.push(format!("never {wanted}, {state} at the last look"));
            }
            if let Some(check) = check {
                let as_run = Run {
                    inputs: serde_json::Map::new(),
                    state: check.state.clone().unwrap_or_else(|| state.to_owned()),
                    task_runs: check.task_runs,
                    outputs: check
                        .outputs
                        .iter()
                        .map(|o| OutputCheck {
                            task: o.task.clone(),
                            value: o.value.clone(),
                            key: o.key.clone(),
                            equals: o.equals.clone(),
                            contains: o.contains,
                        })
                        .collect(),
                    labels: serde_json::Map::new(),
                    all_executions: Vec::new(),
                    also: Vec::new(),
                    files: serde_json::Map::new(),
                    subflows: None,
                    file_lines: Vec::new(),
                };
                found.extend(differences(&as_run, &execution));
                let history: Vec<&str> = execution["state"]["histories"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h["state"].as_str())
                    .collect();
                if !check.history.is_empty()
                    && !history
                        .starts_with(&check.history.iter().map(String::as_str).collect::<Vec<_>>())
                {
                    found.push(format!(
                        "history {history:?}, Kestra's test expects it to start {:?}",
                        check.history
                    ));
                }
                for (task, attempts) in &check.attempts {
                    let runs = execution["taskRunList"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let actual = runs
                        .iter()
                        .find(|r| r["taskId"] == task.as_str())
                        .map(|r| r["attempts"].clone());
                    if actual.as_ref() != Some(attempts) {
                        found.push(format!(
                            "{task} made {actual:?} attempts, Kestra's test expects {attempts}"
                        ));
                    }
                }
                for (key, wanted) in &check.trigger {
                    let wanted = match wanted.as_str() {
                        Some("$first") => Value::String(first.clone()),
                        Some("$started") => Value::String(started.clone()),
                        _ => wanted.clone(),
                    };
                    let actual = &execution["trigger"]["variables"][key.as_str()];
                    if actual != &wanted {
                        found.push(format!(
                            "trigger.variables.{key} is {actual}, Kestra's test expects {wanted}"
                        ));
                    }
                }
            }
            if !found.is_empty() {
                return Err(at(format!("{}\n    {execution}", found.join("; "))));
            }
        }
    }
    Ok(())
}

/// The states the executions of a flow ended in, once `count` of them have
/// ended (or after a minute).
async fn ended_states(app: &TestApp, namespace: &str, id: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, found) = app
            .get(&format!(
                "/api/v1/compat/executions/search?namespace={namespace}&flowId={id}&size=100"
            ))
            .await;
        let states: Vec<String> = found["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                e["state"]["current"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let ended = states
            .iter()
            .filter(|s| !["CREATED", "RUNNING", "PAUSED", "KILLING"].contains(&s.as_str()))
            .count();
        if (states.len() >= count && ended == states.len()) || Instant::now() > deadline {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How the subflow executions a run started differ from the Java test's
/// expectations; waits up to a minute for them to end.
async fn subflow_differences(app: &TestApp, parent: &Value, expected: &Subflows) -> Vec<String> {
    let parent_id = parent["id"].as_str().unwrap_or_default();
    let (namespace, flow) = expected.flow.split_once('/').unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let children = loop {
        let (_, found) = app
            .get(&format!(
                "/api/v1/compat/executions/search?namespace={namespace}&flowId={flow}&size=1000"
            ))
            .await;
        let children: Vec<Value> = found["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["labels"]["system.correlationId"] == parent_id)
            .cloned()
            .collect();
        let ended = children
            .iter()
            .all(|e| ENDED.contains(&e["state"]["current"].as_str().unwrap_or_default()));
        if (children.len() >= expected.count && ended) || Instant::now() > deadline {
            break children;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut found = Vec::new();
    if children.len() != expected.count {
        found.push(format!(
            "{} subflow executions, Kestra's test expects {}",
            children.len(),
            expected.count
        ));
    }
    for child in &children {
        let id = child["id"].as_str().unwrap_or_default();
        let (_, child) = app.get(&format!("/api/v1/compat/executions/{id}")).await;
        let state = child["state"]["current"].as_str().unwrap_or_default();
        let runs = child["taskRunList"].as_array().map_or(0, Vec::len);
        if state != expected.state || runs != expected.task_runs {
            found.push(format!(
                "subflow execution {id} ended {state} with {runs} task runs, Kestra's test expects {} with {}",
                expected.state, expected.task_runs
            ));
        }
        let items = child["inputs"]["items"].as_str().unwrap_or_default();
        if let Some(part) = &expected.items_contain
            && !items.contains(part.as_str())
        {
            found.push(format!(
                "subflow execution {id} has items {items:?}, expected to contain {part:?}"
            ));
        }
    }
    found
}

/// Whether the file an output names holds the expected number of lines.
async fn file_line_differences(app: &TestApp, execution: &Value, check: &FileLines) -> Vec<String> {
    let id = execution["id"].as_str().unwrap_or_default();
    let uri = execution["taskRunList"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["taskId"] == check.task.as_str())
        .and_then(|r| r["outputs"][check.key.as_str()].as_str())
        .unwrap_or_default()
        .to_owned();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/compat/executions/{id}/file")))
        .query(&[("path", uri.as_str())])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let lines = text.lines().count();
    if status != 200 || lines != check.lines {
        return vec![format!(
            "{}.{} ({uri}): {status} with {lines} lines, Kestra's test expects {}",
            check.task, check.key, check.lines
        )];
    }
    Vec::new()
}

#[tokio::test]
async fn kestras_test_flows_run_as_kestras_tests_expect_or_are_refused_by_name() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "compat").await;
    let expectations = expectations();
    let dir = suite_dir().join("flows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("flows")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let listed: Vec<&str> = expectations.iter().map(|e| e.file.as_str()).collect();
    let mut problems = Vec::new();
    for file in &files {
        if !listed.contains(&file.as_str()) {
            problems.push(format!("{file}: no expectation"));
        }
    }

    // Every flow first: runs may call others (subflows, flow triggers).
    let mut created = std::collections::HashMap::new();
    for expectation in &expectations {
        let source = std::fs::read_to_string(dir.join(&expectation.file))
            .unwrap_or_else(|e| panic!("{}: {e}", expectation.file));
        let (status, body) = app
            .yaml(Method::POST, "/api/v1/compat/flows", &app.admin, &source)
            .await;
        let message = body["message"].as_str().unwrap_or_default().to_owned();
        let modes = [
            expectation.run.is_some(),
            expectation.refused.is_some(),
            expectation.created,
            !expectation.steps.is_empty(),
        ];
        if expectation.created && expectation.why.is_empty() {
            problems.push(format!(
                "{}: a flow only created says why it is not run here",
                expectation.file
            ));
        }
        if modes.iter().filter(|m| **m).count() != 1 {
            problems.push(format!(
                "{}: give exactly one of run, refused, created, steps",
                expectation.file
            ));
            continue;
        }
        match (&expectation.refused, status) {
            (Some(part), 422) if message.contains(part.as_str()) => {}
            (Some(part), _) => problems.push(format!(
                "{}: expected a refusal naming '{part}', got {status} {message}",
                expectation.file
            )),
            (None, 200) => {
                created.insert(expectation.file.clone(), flow_key(&source));
            }
            (None, _) => problems.push(format!(
                "{}: refused ({status} {message}); {}",
                expectation.file, expectation.java
            )),
        }
    }

    // Each run with its flow; those whose outcome depends on elapsed time
    // (a retry's maxDuration) run alone after the rest, as Kestra's own
    // tests run one flow at a time: beside 80 others on two cores, queue
    // waits would eat their duration.
    let cases: Vec<(&Expectation, &Run, (String, String))> = expectations
        .iter()
        .flat_map(|expectation| {
            let key = created.get(&expectation.file).cloned();
            expectation
                .run
                .iter()
                .flat_map(|run| std::iter::once(run).chain(&run.also))
                .filter_map(move |run| Some((expectation, run, key.clone()?)))
        })
        .collect();
    let timed = |expectation: &Expectation| {
        std::fs::read_to_string(dir.join(&expectation.file))
            .is_ok_and(|source| source.contains("maxDuration"))
    };
    let (alone, together): (Vec<_>, Vec<_>) = cases
        .into_iter()
        .partition(|(expectation, _, _)| timed(expectation));
    let app = &app;
    let mut outcomes =
        futures::future::join_all(together.into_iter().map(|case| check_run(app, case))).await;
    for case in alone {
        outcomes.push(check_run(app, case).await);
    }
    let scenarios = expectations
        .iter()
        .filter(|e| !e.steps.is_empty())
        .filter_map(|e| Some((e, created.get(&e.file)?.clone())));
    let scenarios = futures::future::join_all(scenarios.map(|(expectation, (namespace, id))| {
        let app = &app;
        async move {
            let found = scenario(app, &namespace, &id, &expectation.steps).await;
            (expectation, found)
        }
    }))
    .await;
    let mut passed_scenarios = 0;
    for (expectation, found) in &scenarios {
        match found {
            Ok(()) => passed_scenarios += 1,
            Err(problem) => problems.push(format!(
                "{} ({}): {problem}",
                expectation.file, expectation.java
            )),
        }
    }
    let mut passed_runs = 0;
    for (expectation, found, execution) in &outcomes {
        if found.is_empty() {
            passed_runs += 1;
        } else {
            problems.push(format!(
                "{} ({}): {}\n    {execution}",
                expectation.file,
                expectation.java,
                found.join("; ")
            ));
        }
    }
    let refused = expectations.iter().filter(|e| e.refused.is_some()).count();
    let only_created = expectations.iter().filter(|e| e.created).count();
    println!(
        "Kestra compatibility: {} flows; {passed_runs} of {} runs end as Kestra's tests expect, {passed_scenarios} of {} scenarios (restart, resume, kill, concurrency, triggers, webhooks) too, {refused} flows refused at creation naming what is not supported, {only_created} created only (their tests need what the suite does not drive)",
        expectations.len(),
        outcomes.len(),
        scenarios.len(),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One run of a flow to its end, and how it differs from what Kestra's
/// test expects.
async fn check_run<'a>(
    app: &TestApp,
    (expectation, run, (namespace, id)): (&'a Expectation, &'a Run, (String, String)),
) -> (&'a Expectation, Vec<String>, Value) {
    let inputs = Value::Object(run.inputs.clone());
    let execution = run_to_end(app, &namespace, &id, &inputs, &run.files).await;
    let mut found = differences(run, &execution);
    if let Some(expected) = &run.subflows {
        found.extend(subflow_differences(app, &execution, expected).await);
    }
    for check in &run.file_lines {
        found.extend(file_line_differences(app, &execution, check).await);
    }
    if !run.all_executions.is_empty() {
        let mut ended = ended_states(app, &namespace, &id, run.all_executions.len()).await;
        let mut expected = run.all_executions.clone();
        ended.sort();
        expected.sort();
        if ended != expected {
            found.push(format!(
                "its executions ended {ended:?}, Kestra's test expects {expected:?}"
            ));
        }
    }
    (expectation, found, execution)
}

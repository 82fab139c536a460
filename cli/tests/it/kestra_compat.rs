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
        if !actual.contains(&check.equals) {
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

/// Starts `flow` with `inputs` and polls it until it ends.
async fn run_to_end(app: &TestApp, namespace: &str, id: &str, inputs: &Value) -> Value {
    let (status, started) = app
        .post(
            &format!("/api/v1/compat/executions/{namespace}/{id}"),
            inputs.clone(),
        )
        .await;
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
        ];
        if expectation.created && expectation.why.is_empty() {
            problems.push(format!(
                "{}: a flow only created says why it is not run here",
                expectation.file
            ));
        }
        if modes.iter().filter(|m| **m).count() != 1 {
            problems.push(format!(
                "{}: give exactly one of run, refused, created",
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

    let runs = expectations.iter().flat_map(|expectation| {
        let cases: Vec<&Run> = expectation
            .run
            .iter()
            .flat_map(|run| std::iter::once(run).chain(&run.also))
            .collect();
        let key = created.get(&expectation.file).cloned();
        let app = &app;
        cases.into_iter().filter_map(move |run| {
            let (namespace, id) = key.clone()?;
            Some(async move {
                let inputs = Value::Object(run.inputs.clone());
                let execution = run_to_end(app, &namespace, &id, &inputs).await;
                let mut found = differences(run, &execution);
                if !run.all_executions.is_empty() {
                    let mut ended =
                        ended_states(app, &namespace, &id, run.all_executions.len()).await;
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
            })
        })
    });
    let outcomes = futures::future::join_all(runs).await;
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
        "Kestra compatibility: {} flows; {passed_runs} of {} runs end as Kestra's tests expect, {refused} flows refused at creation naming what is not supported, {only_created} created (their tests need more than one run)",
        expectations.len(),
        outcomes.len(),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

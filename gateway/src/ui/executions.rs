//! Execution pages: the list with its filters, and one execution at
//! `{base}/executions/{namespace}/{flowId}/{executionId}` with its state
//! history, task runs on a timeline, outputs and logs, refreshed while it
//! runs, plus kill and restart.

use aerie_proto::execution::v1 as pb;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::page::{Chrome, Pager, UiError, fragment, render, render_fragment};
use super::session::Form;
use super::{Here, Session};
use crate::routes::executions::logs::LogLine;
use crate::routes::executions::{Execution, ExecutionState, attachment, date_bound};
use crate::state::AppState;

/// Executions listed on one page.
const PAGE_SIZE: u32 = 100;
/// States an execution does not leave on its own.
const ENDED: &[&str] = &[
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "RETRIED",
    "RESTARTED",
];
/// The states the list filters by.
const STATES: &[&str] = &[
    "CREATED",
    "QUEUED",
    "RUNNING",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "RETRIED",
    "RESTARTED",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/executions", get(list))
        .route("/executions/{namespace}/{flow_id}/{id}", get(show))
        .route("/executions/{namespace}/{flow_id}/{id}/live", get(live))
        .route("/executions/{namespace}/{flow_id}/{id}/file", get(file))
        .route(
            "/executions/{namespace}/{flow_id}/{id}/logs",
            get(logs_file),
        )
        .route("/executions/{namespace}/{flow_id}/{id}/kill", post(kill))
        .route(
            "/executions/{namespace}/{flow_id}/{id}/restart",
            post(restart),
        )
}

/// An execution's place in the URL (named: the tenant may be a parameter too).
#[derive(Debug, serde::Deserialize)]
struct ExecutionPath {
    namespace: String,
    flow_id: String,
    id: String,
}

#[derive(Debug, Default, Serialize)]
struct ExecutionFilter {
    namespace: String,
    flow_id: String,
    state: String,
    /// Dates (`YYYY-MM-DD`) as the date inputs send them.
    start_date: String,
    end_date: String,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let mut filter = ExecutionFilter::default();
    let mut page_number = 1;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "page" => page_number = Pager::requested(&value),
            "namespace" => filter.namespace = value.into_owned(),
            "flowId" => filter.flow_id = value.into_owned(),
            "state" => filter.state = value.into_owned(),
            "startDate" => filter.start_date = value.into_owned(),
            "endDate" => filter.end_date = value.into_owned(),
            _ => {}
        }
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "executions").await?;
    let request = here.request(
        &session,
        pb::SearchExecutionsRequest {
            namespace: filter.namespace.clone(),
            flow_id: filter.flow_id.clone(),
            state: Some(filter.state.as_str())
                .filter(|s| !s.is_empty())
                .map(crate::routes::executions::state_of_name)
                .transpose()?
                .into_iter()
                .collect(),
            page: page_number,
            size: PAGE_SIZE,
            sort: String::new(),
            start_date: date_bound("startDate", Some(&filter.start_date), false)
                .map_err(|e| UiError::new(e.status, e.message))?,
            end_date: date_bound("endDate", Some(&filter.end_date), true)
                .map_err(|e| UiError::new(e.status, e.message))?,
        },
    );
    let page = state
        .executions
        .clone()
        .search_executions(request)
        .await?
        .into_inner();
    let executions: Vec<Execution> = page.results.into_iter().map(Into::into).collect();
    let pager = Pager::new(
        &format!("{}/executions", here.base),
        &[
            ("namespace", &filter.namespace),
            ("flowId", &filter.flow_id),
            ("state", &filter.state),
            ("startDate", &filter.start_date),
            ("endDate", &filter.end_date),
        ],
        page_number,
        PAGE_SIZE,
        page.total,
    );
    render(
        StatusCode::OK,
        "Executions",
        "executions.html",
        context! {
            chrome, executions, total => page.total, filter, states => STATES,
            pager_html => pager.html()?,
        },
    )
}

/// The execution named by the URL, or "not found" when it is another
/// flow's (the id alone decides nothing: the path must be its own).
async fn own_execution(
    state: &AppState,
    session: &Session,
    here: &Here,
    (namespace, flow_id, id): &(String, String, String),
) -> Result<pb::Execution, UiError> {
    let execution = state
        .executions
        .clone()
        .get_execution(here.request(session, pb::GetExecutionRequest { id: id.clone() }))
        .await?
        .into_inner();
    if execution.namespace != *namespace || execution.flow_id != *flow_id {
        return Err(UiError::new(
            StatusCode::NOT_FOUND,
            format!("execution '{id}' not found"),
        ));
    }
    Ok(execution)
}

/// [`own_execution`] with its log lines, for the page.
async fn load(
    state: &AppState,
    session: &Session,
    here: &Here,
    path: &(String, String, String),
) -> Result<(Execution, Vec<LogLine>), UiError> {
    let execution = own_execution(state, session, here, path).await?;
    let id = &path.2;
    let logs = state
        .executions
        .clone()
        .list_logs(here.request(
            session,
            pb::ListLogsRequest {
                execution_id: id.clone(),
                min_level: pb::LogLevel::Unspecified as i32,
            },
        ))
        .await?
        .into_inner()
        .logs
        .into_iter()
        .map(LogLine::from)
        .collect();
    Ok((execution.into(), logs))
}

fn pretty(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// Most file links an execution page lists.
const MAX_FILES: usize = 100;

/// The internal-storage files (`kestra:///...`) an execution's outputs and
/// inputs name.
fn files_in(execution: &Execution) -> Vec<String> {
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text)
                if text.starts_with("kestra:///")
                    && found.len() < MAX_FILES
                    && !found.contains(text) =>
            {
                found.push(text.clone());
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for run in &execution.task_run_list {
        walk(&run.outputs, &mut found);
    }
    walk(&execution.outputs, &mut found);
    walk(&execution.inputs, &mut found);
    found
}

/// One task run's bar on the execution's timeline, in percent of the time
/// from the execution's first state to its last (or to now while it runs).
#[derive(Debug, PartialEq, Serialize)]
struct Bar {
    x: f64,
    width: f64,
    /// Its time from first to last state, e.g. `1.25 s`.
    took: String,
}

/// Narrowest bar drawn, so an instant task stays visible.
const MIN_BAR: f64 = 0.5;

/// The timeline of the task runs, one bar each in the same order.
fn timeline(execution: &Execution, now: DateTime<Utc>) -> Vec<Bar> {
    // A span's dates; one still open ends at `open_end`.
    let span_of = |state: &ExecutionState, open_end: Option<DateTime<Utc>>| {
        let dates: Vec<DateTime<Utc>> = state
            .histories
            .iter()
            .filter_map(|h| h.date.as_deref())
            .filter_map(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
            .collect();
        let start = *dates.first()?;
        let end = match open_end {
            Some(end) => end.max(start),
            None => *dates.last()?,
        };
        Some((start, end))
    };
    let execution_ended = ENDED.contains(&execution.state.current.as_str());
    let open_end = |ended: bool| (!ended).then_some(now);
    let Some((start, end)) = span_of(&execution.state, open_end(execution_ended)) else {
        return Vec::new();
    };
    let total = (end - start).num_microseconds().unwrap_or(0).max(1) as f64;
    execution
        .task_run_list
        .iter()
        .map(|run| {
            let current = run.state.current.as_str();
            let run_ended = ENDED.contains(&current) || current == "SKIPPED";
            // A run left open in an ended execution stops where it did.
            let run_end = match (run_ended, execution_ended) {
                (true, _) => None,
                (false, true) => Some(end),
                (false, false) => Some(now),
            };
            match span_of(&run.state, run_end) {
                Some((from, to)) => {
                    let offset = (from - start).num_microseconds().unwrap_or(0) as f64;
                    let length = (to - from).num_microseconds().unwrap_or(0) as f64;
                    let x = (offset / total * 100.0).clamp(0.0, 100.0 - MIN_BAR);
                    let width = (length / total * 100.0).clamp(MIN_BAR, 100.0 - x);
                    Bar {
                        x: (x * 100.0).round() / 100.0,
                        width: (width * 100.0).round() / 100.0,
                        took: format!("{:.2} s", length / 1_000_000.0),
                    }
                }
                None => Bar {
                    x: 0.0,
                    width: MIN_BAR,
                    took: String::new(),
                },
            }
        })
        .collect()
}

/// Most log lines the page shows (the latest); all of them download from
/// the page's logs link.
const MAX_LOG_LINES: usize = 1000;
/// Most task runs the page lists (the first ones); an execution with more
/// (a large ForEach) says how many are left out.
const MAX_TASK_RUNS: usize = 1000;

/// What the live part of the page shows; `csrf` for its Kill and Restart
/// forms, which it carries so that they follow the execution's state.
fn live_context(
    execution: &Execution,
    logs: &[LogLine],
    path: &str,
    csrf: &str,
) -> minijinja::Value {
    let ended = ENDED.contains(&execution.state.current.as_str());
    let earlier_logs = logs.len().saturating_sub(MAX_LOG_LINES);
    let logs = &logs[earlier_logs..];
    let more_task_runs = execution.task_run_list.len().saturating_sub(MAX_TASK_RUNS);
    let mut shown = execution.clone();
    shown.task_run_list.truncate(MAX_TASK_RUNS);
    let execution = &shown;
    let outputs: Vec<(String, String)> = execution
        .task_run_list
        .iter()
        .map(|run| (run.task_id.clone(), pretty(&run.outputs)))
        .filter(|(_, text)| !text.is_empty())
        .collect();
    let files: Vec<(String, String)> = files_in(execution)
        .into_iter()
        .map(|uri| {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("path", &uri)
                .finish();
            (uri, format!("{path}/file?{query}"))
        })
        .collect();
    context! {
        bars => timeline(execution, Utc::now()),
        execution, logs, ended, outputs, files, earlier_logs, more_task_runs, csrf,
        url => path,
        logs_url => format!("{path}/logs"),
        execution_outputs => pretty(&execution.outputs),
        inputs => pretty(&execution.inputs),
        live_url => format!("{path}/live"),
    }
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
) -> Result<Response, UiError> {
    let path = (namespace, flow_id, id);
    let chrome = Chrome::load(&state, &session, Some(&here), "executions").await?;
    let (execution, logs) = load(&state, &session, &here, &path).await?;
    let url = format!("{}/executions/{}/{}/{}", here.base, path.0, path.1, path.2);
    let live = live_context(&execution, &logs, &url, &session.csrf);
    let live_html = fragment("execution_live.html", &context! { live => &live })?;
    let title = format!("Execution {}", execution.id);
    render(
        StatusCode::OK,
        &title,
        "execution.html",
        context! {
            chrome, execution, url, live,
            live_html => minijinja::Value::from_safe_string(live_html),
        },
    )
}

/// The live part alone, fetched by the page's script while it runs.
async fn live(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
) -> Result<Response, UiError> {
    let path = (namespace, flow_id, id);
    let (execution, logs) = load(&state, &session, &here, &path).await?;
    let url = format!("{}/executions/{}/{}/{}", here.base, path.0, path.1, path.2);
    render_fragment(
        "execution_live.html",
        context! { live => live_context(&execution, &logs, &url, &session.csrf) },
    )
}

/// A file of the execution, as a download (never rendered in the page's
/// origin: attachment, octet-stream, nosniff).
async fn file(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let path = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "path")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| {
            UiError::new(
                StatusCode::BAD_REQUEST,
                "which file? add ?path=kestra:///...",
            )
        })?;
    let place = (namespace, flow_id, id);
    own_execution(&state, &session, &here, &place).await?;
    let file = state
        .executions
        .clone()
        .get_execution_file(
            here.request(&session, pb::GetExecutionFileRequest { id: place.2, path }),
        )
        .await?
        .into_inner();
    Ok(attachment(&file.filename, file.content))
}

/// Every log line of the execution as a text download.
async fn logs_file(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
) -> Result<Response, UiError> {
    let path = (namespace, flow_id, id);
    let (_, logs) = load(&state, &session, &here, &path).await?;
    let mut text = String::new();
    for line in &logs {
        text.push_str(&format!(
            "{} {} {} {}\n",
            line.timestamp.as_deref().unwrap_or_default(),
            line.level,
            line.task_id.as_deref().unwrap_or("-"),
            line.message
        ));
    }
    Ok(attachment(&format!("{}.log", path.2), text.into_bytes()))
}

async fn kill(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
    _: Form,
) -> Result<Response, UiError> {
    let path = (namespace, flow_id, id);
    own_execution(&state, &session, &here, &path).await?;
    state
        .executions
        .clone()
        .kill_execution(here.request(&session, pb::KillExecutionRequest { id: path.2.clone() }))
        .await?;
    let url = format!("{}/executions/{}/{}/{}", here.base, path.0, path.1, path.2);
    Ok(Redirect::to(&url).into_response())
}

async fn restart(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(ExecutionPath {
        namespace,
        flow_id,
        id,
    }): Path<ExecutionPath>,
    _: Form,
) -> Result<Response, UiError> {
    let path = (namespace, flow_id, id);
    own_execution(&state, &session, &here, &path).await?;
    state
        .executions
        .clone()
        .restart_execution(
            here.request(&session, pb::RestartExecutionRequest { id: path.2.clone() }),
        )
        .await?;
    let url = format!("{}/executions/{}/{}/{}", here.base, path.0, path.1, path.2);
    Ok(Redirect::to(&url).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(current: &str, dates: &[&str]) -> serde_json::Value {
        let histories: Vec<_> = dates
            .iter()
            .map(|d| serde_json::json!({"state": "X", "date": d}))
            .collect();
        serde_json::json!({"current": current, "histories": histories})
    }

    fn run(id: &str, state: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"id": id, "taskId": id, "parentTaskRunId": null, "value": null,
            "state": state, "outputs": {}, "attempts": 1})
    }

    #[test]
    fn the_page_shows_the_latest_thousand_log_lines_and_a_thousand_task_runs() {
        let runs: Vec<_> = (0..1003)
            .map(|i| {
                run(
                    &format!("t{i}"),
                    state("SUCCESS", &["2026-01-01T10:00:01Z"]),
                )
            })
            .collect();
        let execution: Execution = serde_json::from_value(serde_json::json!({
            "id": "e", "namespace": "ns", "flowId": "f", "flowRevision": 1, "tenantId": null,
            "state": state("SUCCESS", &["2026-01-01T10:00:00Z", "2026-01-01T10:00:02Z"]),
            "taskRunList": runs,
            "inputs": {}, "outputs": {}, "labels": {}, "trigger": null,
        }))
        .expect("an execution");
        let logs: Vec<LogLine> = (0..1005)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "namespace": "ns", "flowId": "f", "executionId": "e", "taskRunId": null,
                    "taskId": null, "level": "INFO", "timestamp": null, "message": format!("line {i}"),
                }))
                .expect("a log line")
            })
            .collect();
        let live = live_context(&execution, &logs, "/ui/a/executions/ns/f/e", "token");
        let field = |name: &str| live.get_attr(name).expect(name);
        assert_eq!(field("earlier_logs").as_usize(), Some(5));
        assert_eq!(field("more_task_runs").as_usize(), Some(3));
        let shown = field("logs");
        assert_eq!(shown.len(), Some(MAX_LOG_LINES));
        let first = shown.get_item(&0.into()).expect("first");
        assert_eq!(
            first.get_attr("message").expect("message").as_str(),
            Some("line 5"),
            "the latest lines"
        );
        let listed = field("execution").get_attr("taskRunList").expect("runs");
        assert_eq!(listed.len(), Some(MAX_TASK_RUNS));
        assert_eq!(field("bars").len(), Some(MAX_TASK_RUNS));
        assert_eq!(
            field("logs_url").as_str(),
            Some("/ui/a/executions/ns/f/e/logs")
        );
    }

    #[test]
    fn task_runs_are_placed_on_the_executions_time_span() {
        let execution: Execution = serde_json::from_value(serde_json::json!({
            "id": "e", "namespace": "ns", "flowId": "f", "flowRevision": 1, "tenantId": null,
            "state": state("RUNNING", &["2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z"]),
            "taskRunList": [
                run("first", state("SUCCESS", &["2026-01-01T10:00:01Z", "2026-01-01T10:00:03.500Z"])),
                run("instant", state("SUCCESS", &["2026-01-01T10:00:04Z", "2026-01-01T10:00:04Z"])),
                run("running", state("RUNNING", &["2026-01-01T10:00:05Z"])),
                run("undated", serde_json::json!({"current": "CREATED", "histories": []})),
                run("skipped", state("SKIPPED", &["2026-01-01T10:00:02Z"])),
            ],
            "inputs": {}, "outputs": {}, "labels": {}, "trigger": null,
        }))
        .expect("an execution");
        let now = DateTime::parse_from_rfc3339("2026-01-01T10:00:10Z")
            .expect("date")
            .with_timezone(&Utc);
        let bars = timeline(&execution, now);
        let placed: Vec<(f64, f64, &str)> = bars
            .iter()
            .map(|b| (b.x, b.width, b.took.as_str()))
            .collect();
        assert_eq!(
            placed,
            [
                (10.0, 25.0, "2.50 s"),
                (40.0, MIN_BAR, "0.00 s"),
                (50.0, 50.0, "5.00 s"),
                (0.0, MIN_BAR, ""),
                (20.0, MIN_BAR, "0.00 s"),
            ],
            "a running execution spans until now; an instant run and a skipped one stay small"
        );

        // Ended: a run still marked RUNNING stops at the execution's end.
        let mut ended = execution.clone();
        ended.state = serde_json::from_value(state(
            "FAILED",
            &["2026-01-01T10:00:00Z", "2026-01-01T10:00:08Z"],
        ))
        .expect("state");
        let bars = timeline(&ended, now);
        assert_eq!((bars[2].x, bars[2].width), (62.5, 37.5), "{bars:?}");
    }
}

//! Flow pages: search, create and edit YAML (problems shown at their line
//! and column, the text kept), revisions, and a form that starts an
//! execution with the flow's declared inputs.

use aerie_proto::execution::v1 as exec_pb;
use aerie_proto::flow::v1 as pb;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::page::{Chrome, Pager, UiError, fragment, render};
use super::session::Form;
use super::{Here, Session};
use crate::routes::executions::Execution;
use crate::routes::flows::Flow;
use crate::state::AppState;

/// Flows listed on one page.
const PAGE_SIZE: u32 = 100;

/// What a new flow starts from.
const NEW_FLOW: &str = "id: hello\nnamespace: company.team\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from Aerie\n";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/flows", get(list))
        .route("/flows/new", get(new_form).post(create))
        .route("/flows/{namespace}/{id}", get(show).post(save))
        .route("/flows/{namespace}/{id}/execute", post(execute))
        .route("/flows/{namespace}/{id}/diff", get(diff))
        .route("/flows/{namespace}/{id}/disabled", post(set_disabled))
}

/// A flow's place in the URL (named: the tenant may be a parameter too).
#[derive(Debug, serde::Deserialize)]
struct FlowPath {
    namespace: String,
    id: String,
}

/// A problem in a flow's YAML, as the page lists it.
#[derive(Debug, Serialize)]
struct Problem {
    path: String,
    line: u32,
    column: u32,
    message: String,
}

/// The query of the flow list.
#[derive(Debug, Default, Serialize)]
struct FlowFilter {
    q: String,
    namespace: String,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let mut filter = FlowFilter::default();
    let mut page_number = 1;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => filter.q = value.into_owned(),
            "namespace" => filter.namespace = value.into_owned(),
            "page" => page_number = Pager::requested(&value),
            _ => {}
        }
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "flows").await?;
    let request = here.request(
        &session,
        pb::SearchFlowsRequest {
            q: filter.q.clone(),
            namespace: filter.namespace.clone(),
            labels: Vec::new(),
            page: page_number,
            size: PAGE_SIZE,
            sort: "namespace:asc".to_owned(),
        },
    );
    let page = state
        .flows
        .clone()
        .search_flows(request)
        .await?
        .into_inner();
    let namespaces = state
        .flows
        .clone()
        .list_namespaces(here.request(&session, pb::ListNamespacesRequest { q: String::new() }))
        .await?
        .into_inner()
        .namespaces;
    let flows: Vec<Flow> = page.results.into_iter().map(Into::into).collect();
    let pager = Pager::new(
        &format!("{}/flows", here.base),
        &[("q", &filter.q), ("namespace", &filter.namespace)],
        page_number,
        PAGE_SIZE,
        page.total,
    );
    render(
        StatusCode::OK,
        "Flows",
        "flows.html",
        context! {
            chrome, flows, total => page.total, filter, namespaces,
            pager_html => pager.html()?,
        },
    )
}

async fn new_form(
    State(state): State<AppState>,
    session: Session,
    here: Here,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(&state, &session, Some(&here), "flows").await?;
    render(
        StatusCode::OK,
        "New flow",
        "flow_new.html",
        context! { chrome, source => NEW_FLOW, problems_html => "" },
    )
}

/// The problems flow-svc finds in `source`; empty when it is valid.
async fn problems_in(
    state: &AppState,
    session: &Session,
    here: &Here,
    source: &str,
) -> Result<Vec<Problem>, UiError> {
    let report = state
        .flows
        .clone()
        .validate_flow(here.request(
            session,
            pb::ValidateFlowRequest {
                source: source.to_owned(),
            },
        ))
        .await?
        .into_inner();
    Ok(report
        .findings
        .into_iter()
        .map(|f| Problem {
            path: f.path,
            line: f.line,
            column: f.column,
            message: f.message,
        })
        .collect())
}

/// What a list of problems is about.
const NOT_SAVED: &str = "The flow was not saved";
const NOT_STARTED: &str = "The execution was not started";

/// The list of problems, as a part of a page.
fn problems_html(problems: &[Problem], heading: &str) -> Result<minijinja::Value, UiError> {
    let html = fragment("problems.html", &context! { problems, heading })?;
    Ok(minijinja::Value::from_safe_string(html))
}

/// A refusal of the service as one problem without a place.
fn refusal(status: tonic::Status) -> Result<Vec<Problem>, UiError> {
    let error = UiError::shown_on_page(status)?;
    Ok(vec![Problem {
        path: String::new(),
        line: 0,
        column: 0,
        message: error.message,
    }])
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    form: Form,
) -> Result<Response, UiError> {
    let source = form.get("source").unwrap_or_default().to_owned();
    let mut problems = problems_in(&state, &session, &here, &source).await?;
    if problems.is_empty() {
        let request = here.request(
            &session,
            pb::CreateFlowRequest {
                source: source.clone(),
            },
        );
        match state.flows.clone().create_flow(request).await {
            Ok(flow) => {
                let flow = flow.into_inner();
                return Ok(Redirect::to(&format!(
                    "{}/flows/{}/{}",
                    here.base, flow.namespace, flow.id
                ))
                .into_response());
            }
            Err(status) => problems = refusal(status)?,
        }
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "flows").await?;
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        "New flow",
        "flow_new.html",
        context! { chrome, source, problems_html => problems_html(&problems, NOT_SAVED)? },
    )
}

/// An input of the execute form.
#[derive(Debug, Serialize)]
struct InputField {
    id: String,
    kind: String,
    required: bool,
    default: String,
    choices: Vec<String>,
}

fn input_fields(source: &str) -> Vec<InputField> {
    aerie_common::kestra::inputs::declared_in(source)
        .into_iter()
        .map(|input| InputField {
            default: input
                .defaults
                .as_ref()
                .map(|v| match v {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default(),
            choices: input.values.clone(),
            kind: input.kind,
            required: input.required,
            id: input.id,
        })
        .collect()
}

/// The flow page, with `problems` from a save or a start that failed and
/// the text the user sent in place of the stored one.
async fn flow_page(
    state: &AppState,
    session: &Session,
    here: &Here,
    (namespace, id): (String, String),
    status: StatusCode,
    (edited, problems, heading): (Option<String>, Vec<Problem>, &str),
) -> Result<Response, UiError> {
    let chrome = Chrome::load(state, session, Some(here), "flows").await?;
    let flow = current_flow(state, session, here, (&namespace, &id)).await?;
    let revisions: Vec<Flow> = state
        .flows
        .clone()
        .list_flow_revisions(here.request(
            session,
            pb::ListFlowRevisionsRequest {
                namespace: namespace.clone(),
                id: id.clone(),
            },
        ))
        .await?
        .into_inner()
        .revisions
        .into_iter()
        .rev()
        .map(Into::into)
        .collect();
    // Reading executions is a permission of its own: without it the page
    // still shows the flow.
    let executions: Vec<Execution> = state
        .executions
        .clone()
        .search_executions(here.request(
            session,
            exec_pb::SearchExecutionsRequest {
                namespace: namespace.clone(),
                flow_id: id.clone(),
                state: Vec::new(),
                page: 1,
                size: 10,
                sort: String::new(),
                start_date: None,
                end_date: None,
            },
        ))
        .await
        .map(|page| {
            page.into_inner()
                .results
                .into_iter()
                .filter(|e| e.namespace == namespace)
                .map(Into::into)
                .collect()
        })
        .unwrap_or_default();
    let inputs = input_fields(&flow.source);
    let has_files = inputs.iter().any(|input| input.kind == "FILE");
    let read_only = is_read_only(&flow);
    let flow: Flow = flow.into();
    let source = edited.unwrap_or_else(|| flow.source.clone());
    let title = format!("{}.{}", flow.namespace, flow.id);
    render(
        status,
        &title,
        "flow.html",
        context! {
            chrome, flow, source, revisions, executions, inputs, has_files, read_only,
            problems_html => problems_html(&problems, heading)?,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
) -> Result<Response, UiError> {
    flow_page(
        &state,
        &session,
        &here,
        (namespace, id),
        StatusCode::OK,
        (None, Vec::new(), ""),
    )
    .await
}

/// Whether the flow carries `system.readOnly: "true"`: its page shows the
/// source but changes nothing, as Kestra's UI does.
fn is_read_only(flow: &pb::Flow) -> bool {
    flow.labels
        .get(aerie_common::kestra::READ_ONLY_LABEL)
        .is_some_and(|v| v == "true")
}

/// The flow's current revision, read as the session's user.
async fn current_flow(
    state: &AppState,
    session: &Session,
    here: &Here,
    (namespace, id): (&str, &str),
) -> Result<pb::Flow, UiError> {
    Ok(state
        .flows
        .clone()
        .get_flow(here.request(
            session,
            pb::GetFlowRequest {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
                revision: 0,
            },
        ))
        .await?
        .into_inner())
}

/// Refuses a change from the UI to a read-only flow (a form posted by
/// hand as much as the page's own).
async fn writable(
    state: &AppState,
    session: &Session,
    here: &Here,
    (namespace, id): (&str, &str),
) -> Result<pb::Flow, UiError> {
    let flow = current_flow(state, session, here, (namespace, id)).await?;
    if is_read_only(&flow) {
        return Err(UiError::new(
            StatusCode::CONFLICT,
            format!(
                "{namespace}.{id} is read-only here (label {}: true): change it through the API or where its source is kept",
                aerie_common::kestra::READ_ONLY_LABEL
            ),
        ));
    }
    Ok(flow)
}

async fn save(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    form: Form,
) -> Result<Response, UiError> {
    writable(&state, &session, &here, (&namespace, &id)).await?;
    let source = form.get("source").unwrap_or_default().to_owned();
    let mut problems = problems_in(&state, &session, &here, &source).await?;
    if problems.is_empty() {
        let request = here.request(
            &session,
            pb::UpdateFlowRequest {
                namespace: namespace.clone(),
                id: id.clone(),
                source: source.clone(),
            },
        );
        match state.flows.clone().update_flow(request).await {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("{}/flows/{namespace}/{id}", here.base)).into_response(),
                );
            }
            Err(status) => problems = refusal(status)?,
        }
    }
    flow_page(
        &state,
        &session,
        &here,
        (namespace, id),
        StatusCode::UNPROCESSABLE_ENTITY,
        (Some(source), problems, NOT_SAVED),
    )
    .await
}

async fn execute(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    form: Form,
) -> Result<Response, UiError> {
    // Form values are strings; execution-svc converts them to each input's
    // type and says which one is wrong. An empty field is not sent, so a
    // default applies.
    let inputs: serde_json::Map<String, serde_json::Value> = form
        .fields
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("input.")?;
            (!value.is_empty()).then(|| (name.to_owned(), serde_json::Value::String(value.clone())))
        })
        .collect();
    let request = here.request(
        &session,
        exec_pb::CreateExecutionRequest {
            namespace: namespace.clone(),
            flow_id: id.clone(),
            inputs: aerie_proto::wire::to_struct(serde_json::Value::Object(inputs)),
            files: form
                .files
                .into_iter()
                .filter_map(|upload| {
                    Some(exec_pb::InputFile {
                        input: upload.field.strip_prefix("input.")?.to_owned(),
                        filename: upload.filename,
                        content: upload.content,
                    })
                })
                .collect(),
            labels: Default::default(),
            wait: false,
            revision: 0,
            idempotency_key: String::new(),
        },
    );
    match state.executions.clone().create_execution(request).await {
        Ok(execution) => {
            let execution = execution.into_inner();
            Ok(Redirect::to(&format!(
                "{}/executions/{namespace}/{id}/{}",
                here.base, execution.id
            ))
            .into_response())
        }
        Err(status) => {
            let problems = refusal(status)?;
            flow_page(
                &state,
                &session,
                &here,
                (namespace, id),
                StatusCode::UNPROCESSABLE_ENTITY,
                (None, problems, NOT_STARTED),
            )
            .await
        }
    }
}

/// Enable or disable a flow: a new revision with `disabled:` set.
async fn set_disabled(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    form: Form,
) -> Result<Response, UiError> {
    let disabled = match form.get("disabled") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(UiError::new(
                StatusCode::BAD_REQUEST,
                "disabled is true or false",
            ));
        }
    };
    let flow = writable(&state, &session, &here, (&namespace, &id)).await?;
    if flow.disabled != disabled {
        let request = here.request(
            &session,
            pb::UpdateFlowRequest {
                namespace: namespace.clone(),
                id: id.clone(),
                source: aerie_common::kestra::source::with_disabled(&flow.source, disabled),
            },
        );
        if let Err(status) = state.flows.clone().update_flow(request).await {
            let problems = refusal(status)?;
            return flow_page(
                &state,
                &session,
                &here,
                (namespace, id),
                StatusCode::UNPROCESSABLE_ENTITY,
                (None, problems, NOT_SAVED),
            )
            .await;
        }
    }
    Ok(Redirect::to(&format!("{}/flows/{namespace}/{id}", here.base)).into_response())
}

/// Two revisions side by side as a line diff: `?from=N&to=M`, by default
/// the latest against the one before it.
async fn diff(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(FlowPath { namespace, id }): Path<FlowPath>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(&state, &session, Some(&here), "flows").await?;
    let revisions: Vec<i32> = state
        .flows
        .clone()
        .list_flow_revisions(here.request(
            &session,
            pb::ListFlowRevisionsRequest {
                namespace: namespace.clone(),
                id: id.clone(),
            },
        ))
        .await?
        .into_inner()
        .revisions
        .iter()
        .map(|r| r.revision)
        .collect();
    let latest = revisions.iter().copied().max().unwrap_or(1);
    let (mut from, mut to) = ((latest - 1).max(1), latest);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let number = value.parse::<i32>().ok().filter(|n| revisions.contains(n));
        match (key.as_ref(), number) {
            ("from", Some(n)) => from = n,
            ("to", Some(n)) => to = n,
            _ => {}
        }
    }
    let source_of = |revision: i32| {
        let mut flows = state.flows.clone();
        let request = here.request(
            &session,
            pb::GetFlowRequest {
                namespace: namespace.clone(),
                id: id.clone(),
                revision,
            },
        );
        async move { flows.get_flow(request).await }
    };
    let old = source_of(from).await?.into_inner().source;
    let new = source_of(to).await?.into_inner().source;
    let lines = super::diff::line_diff(&old, &new);
    let title = format!("{namespace}.{id} revisions");
    render(
        StatusCode::OK,
        &title,
        "flow_diff.html",
        context! { chrome, namespace => &namespace, id => &id, from, to, revisions, lines },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execute_form_asks_for_the_declared_inputs() {
        let fields = input_fields(
            "id: f\nnamespace: n\ninputs:\n  - id: who\n    type: STRING\n    defaults: world\n  - id: level\n    type: ENUM\n    values: [a, b]\ntasks: []\n",
        );
        let ids: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["who", "level"]);
        assert_eq!(fields[0].default, "world");
        assert_eq!(fields[1].choices, ["a", "b"]);
        assert!(input_fields(": not yaml [").is_empty());
    }
}

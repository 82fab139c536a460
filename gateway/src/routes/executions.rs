//! `/api/v1{t}/executions` and `/logs`: starting, reading, following,
//! killing and restarting executions, their logs and files, in
//! execution-svc. Webhooks are in [`webhooks`]: they carry no token.

use std::convert::Infallible;

use aerie_proto::execution::v1 as pb;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use aerie_proto::wire::{from_struct, to_struct};

use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

pub mod logs;
pub mod manage;
pub mod webhooks;

/// One state change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct StateHistory {
    pub state: String,
    /// RFC 3339.
    pub date: Option<String>,
}

/// A state and every change that led to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExecutionState {
    /// CREATED, RUNNING, SUCCESS, WARNING, FAILED, KILLING, KILLED, RESTARTED, CANCELLED (SKIPPED and RETRYING for task runs).
    pub current: String,
    pub histories: Vec<StateHistory>,
}

/// One run of a task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    pub id: String,
    pub task_id: String,
    pub parent_task_run_id: Option<String>,
    /// The ForEach value this run belongs to.
    pub value: Option<String>,
    pub state: ExecutionState,
    pub outputs: serde_json::Value,
    pub attempts: u32,
}

/// An execution.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i32,
    /// `null` for the default tenant.
    pub tenant_id: Option<String>,
    pub state: ExecutionState,
    /// Absent in search results.
    pub task_run_list: Vec<TaskRun>,
    pub inputs: serde_json::Value,
    pub outputs: serde_json::Value,
    pub labels: std::collections::BTreeMap<String, String>,
    /// What started it; `null` when started by hand.
    pub trigger: Option<serde_json::Value>,
    /// Its attempt, as Kestra shows it.
    #[serde(default)]
    pub metadata: ExecutionMetadata,
}

/// An execution's attempt: 1, or more when a retry
/// (`CREATE_NEW_EXECUTION`) started it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionMetadata {
    pub attempt_number: u32,
    /// When the first attempt was created.
    pub original_created_date: String,
}

/// A state as REST names it (`SUCCESS`).
fn state_name(wire: i32) -> String {
    state_name_of(wire).to_owned()
}

/// A REST state name on the wire; an unknown name is refused by name.
pub fn state_of_name(name: &str) -> Result<i32, tonic::Status> {
    pb::ExecutionState::from_short_name(name)
        .map(|s| s as i32)
        .ok_or_else(|| {
            tonic::Status::invalid_argument(format!(
                "unknown state '{}'",
                name.chars().take(32).collect::<String>()
            ))
        })
}

/// A state on the wire as REST names it (`SUCCESS`).
pub fn state_name_of(wire: i32) -> &'static str {
    pb::ExecutionState::try_from(wire)
        .unwrap_or_default()
        .short_name()
}

fn state_of(state: Option<pb::State>) -> ExecutionState {
    let state = state.unwrap_or_default();
    ExecutionState {
        current: state_name(state.current),
        histories: state
            .histories
            .into_iter()
            .map(|h| StateHistory {
                state: state_name(h.state),
                date: rfc3339(h.date),
            })
            .collect(),
    }
}

impl From<pb::Execution> for Execution {
    fn from(e: pb::Execution) -> Self {
        let some = |text: String| (!text.is_empty()).then_some(text);
        Execution {
            state: state_of(e.state),
            task_run_list: e
                .task_runs
                .into_iter()
                .map(|run| TaskRun {
                    state: state_of(run.state),
                    outputs: from_struct(run.outputs),
                    id: run.id,
                    task_id: run.task_id,
                    parent_task_run_id: some(run.parent_task_run_id),
                    value: some(run.value),
                    attempts: run.attempts,
                })
                .collect(),
            inputs: from_struct(e.inputs),
            outputs: from_struct(e.outputs),
            labels: e.labels.into_iter().collect(),
            trigger: e.trigger.map(|t| from_struct(Some(t))),
            metadata: ExecutionMetadata {
                attempt_number: e.attempt_number,
                original_created_date: e.original_created_date,
            },
            id: e.id,
            namespace: e.namespace,
            flow_id: e.flow_id,
            flow_revision: e.flow_revision,
            tenant_id: e.tenant_id,
        }
    }
}

/// A page of executions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionPage {
    pub results: Vec<Execution>,
    pub total: u64,
}

/// A flow to execute.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FlowPath {
    pub namespace: String,
    pub flow_id: String,
}

/// An execution in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExecutionPath {
    pub id: String,
}

/// Inputs of a new execution: a JSON object of input values, or a
/// multipart form whose files are FILE inputs and whose fields are values.
pub struct Inputs {
    values: serde_json::Map<String, serde_json::Value>,
    files: Vec<pb::InputFile>,
}

impl Inputs {
    /// The values and the files.
    pub fn into_parts(
        self,
    ) -> (
        serde_json::Map<String, serde_json::Value>,
        Vec<pb::InputFile>,
    ) {
        (self.values, self.files)
    }
}

impl<S: Send + Sync> FromRequest<S> for Inputs {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut form = Multipart::from_request(request, state)
                .await
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
            let mut values = serde_json::Map::new();
            let mut files = Vec::new();
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| ApiError::new(e.status(), e.body_text()))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                match field.file_name().map(str::to_owned) {
                    Some(filename) => {
                        let content = field
                            .bytes()
                            .await
                            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
                        files.push(pb::InputFile {
                            input: name,
                            filename,
                            content: content.to_vec(),
                        });
                    }
                    None => {
                        let text = field
                            .text()
                            .await
                            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
                        values.insert(name, serde_json::Value::String(text));
                    }
                }
            }
            return Ok(Inputs { values, files });
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Inputs {
                values: serde_json::Map::new(),
                files: Vec::new(),
            });
        }
        if !content_type.is_empty() && !content_type.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "inputs are a JSON object (application/json) or a multipart form",
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
        let serde_json::Value::Object(values) = value else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "inputs must be a JSON object",
            ));
        };
        Ok(Inputs {
            values,
            files: Vec::new(),
        })
    }
}

/// Options of a new execution.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Answer once the execution has ended.
    pub wait: Option<bool>,
    /// Run this revision of the flow instead of the latest.
    pub revision: Option<i32>,
    /// `key:value`, repeatable.
    pub labels: Vec<String>,
}

fn parse_create_query(raw: Option<String>) -> Result<CreateQuery, ApiError> {
    let mut query = CreateQuery::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "wait" => query.wait = Some(parse_bool("wait", &value)?),
            "revision" => {
                query.revision = Some(value.parse().map_err(|_| {
                    ApiError::new(StatusCode::BAD_REQUEST, "revision must be a number")
                })?)
            }
            "labels" => query.labels.push(value.into_owned()),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use wait, revision, labels"),
                ));
            }
        }
    }
    Ok(query)
}

/// A boolean query parameter: `true` or `false`, as the OpenAPI document
/// says (an empty value is neither).
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{name} must be true or false"),
        )),
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(search))
        .routes(routes!(get_execution))
        .routes(routes!(kill))
        .routes(routes!(restart))
        .routes(routes!(follow))
        .routes(routes!(file))
        .routes(routes!(purge))
        .merge(logs::routes())
        .merge(manage::routes())
}

/// Body of `POST /executions/purge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeBody {
    /// RFC 3339: executions that ended before this go.
    pub before: String,
}

/// How many executions a purge deleted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Purged {
    pub purged: u64,
}

/// Delete the executions that ended before a date, with their task runs,
/// logs and files (EXECUTION:DELETE on every namespace). Running ones stay.
#[utoipa::path(post, path = "/executions/purge", tag = "executions", request_body = PurgeBody,
    responses((status = 200, body = Purged), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn purge(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<PurgeBody>,
) -> Result<Json<Purged>, ApiError> {
    let before = chrono::DateTime::parse_from_rfc3339(body.before.trim()).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("before '{}' is not an RFC 3339 date-time", body.before),
        )
    })?;
    let request = tenant.request(pb::PurgeExecutionsRequest {
        before: Some(prost_types::Timestamp {
            seconds: before.timestamp(),
            nanos: before.timestamp_subsec_nanos() as i32,
        }),
    });
    let purged = state.executions.clone().purge_executions(request).await?;
    Ok(Json(Purged {
        purged: purged.into_inner().purged,
    }))
}

/// Start the flow (EXECUTION:CREATE); `?wait=true` answers once it has ended.
#[utoipa::path(post, path = "/executions/{namespace}/{flow_id}", tag = "executions",
    params(FlowPath, CreateQuery,
        ("Idempotency-Key" = Option<String>, Header,
         description = "1 to 255 printable ASCII characters: a retry with the same key within 24 hours answers with the first execution (409 when it was used for another flow)")),
    request_body(content = serde_json::Value, description = "inputs: a JSON object, or multipart/form-data with files for FILE inputs"),
    responses((status = 200, body = Execution), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<FlowPath>,
    RawQuery(raw): RawQuery,
    headers: axum::http::HeaderMap,
    inputs: Inputs,
) -> Result<Json<Execution>, ApiError> {
    let query = parse_create_query(raw)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => String::new(),
        Some(value) => value.to_str().map(str::to_owned).map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key must be printable ASCII",
            )
        })?,
    };
    let mut labels = std::collections::HashMap::new();
    for label in query.labels {
        let (key, value) = label.split_once(':').ok_or_else(|| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "a label is key:value")
        })?;
        labels.insert(key.to_owned(), value.to_owned());
    }
    let request = tenant.request(pb::CreateExecutionRequest {
        namespace: path.namespace,
        flow_id: path.flow_id,
        inputs: to_struct(serde_json::Value::Object(inputs.values)),
        files: inputs.files,
        labels,
        wait: query.wait.unwrap_or(false),
        revision: query.revision.unwrap_or(0),
        idempotency_key,
    });
    let execution = state
        .executions
        .clone()
        .create_execution(request)
        .await?
        .into_inner();
    Ok(Json(execution.into()))
}

/// Filters and paging of execution search.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// This namespace and its children.
    pub namespace: Option<String>,
    #[param(rename = "flowId")]
    pub flow_id: Option<String>,
    /// Repeatable: executions in any of these states.
    pub state: Vec<String>,
    pub page: Option<u32>,
    pub size: Option<u32>,
    /// field:asc|desc with created, updated, state, namespace, flowId; default created:desc.
    pub sort: Option<String>,
    /// Created at or after: RFC 3339, or a date (midnight UTC).
    #[param(rename = "startDate")]
    pub start_date: Option<String>,
    /// Created before: RFC 3339, or a date (that whole day included).
    #[param(rename = "endDate")]
    pub end_date: Option<String>,
}

/// A date filter of the search as a timestamp, or why not.
pub fn date_bound(
    name: &str,
    value: Option<&str>,
    through_day: bool,
) -> Result<Option<prost_types::Timestamp>, ApiError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    aerie_common::time::parse_bound(value, through_day)
        .map(|t| Some(aerie_common::time::to_timestamp(t)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be an RFC 3339 date-time or a date (YYYY-MM-DD)"),
            )
        })
}

/// Search the tenant's executions (EXECUTION:READ), newest first.
#[utoipa::path(get, path = "/executions/search", tag = "executions", params(SearchQuery),
    responses((status = 200, body = ExecutionPage), (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<ExecutionPage>, ApiError> {
    let (filters, others) = parse_filters(raw, true)?;
    if let Some((other, _)) = others.first() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown query parameter '{other}': use namespace, flowId, state, startDate, endDate, page, size, sort"
            ),
        ));
    }
    let page = state
        .executions
        .clone()
        .search_executions(tenant.request(filters))
        .await?
        .into_inner();
    Ok(Json(ExecutionPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

/// The execution filters of a query string (namespace, flowId, state,
/// startDate, endDate; and page, size, sort when `paged`) as a search;
/// every other parameter is handed back for the caller to use or refuse.
pub(crate) fn parse_filters(
    raw: Option<String>,
    paged: bool,
) -> Result<(pb::SearchExecutionsRequest, Vec<(String, String)>), ApiError> {
    let mut query = SearchQuery::default();
    let mut others = Vec::new();
    let number = |name: &str, value: &str| {
        value
            .parse::<u32>()
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("{name} must be a number")))
    };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "namespace" => query.namespace = Some(value.into_owned()),
            "flowId" => query.flow_id = Some(value.into_owned()),
            "state" => query.state.push(value.into_owned()),
            "page" if paged => query.page = Some(number("page", &value)?),
            "size" if paged => query.size = Some(number("size", &value)?),
            "sort" if paged => query.sort = Some(value.into_owned()),
            "startDate" => query.start_date = Some(value.into_owned()),
            "endDate" => query.end_date = Some(value.into_owned()),
            _ => others.push((key.into_owned(), value.into_owned())),
        }
    }
    let request = pb::SearchExecutionsRequest {
        namespace: query.namespace.unwrap_or_default(),
        flow_id: query.flow_id.unwrap_or_default(),
        state: query
            .state
            .iter()
            .map(|name| state_of_name(name))
            .collect::<Result<_, _>>()?,
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
        sort: query.sort.unwrap_or_default(),
        start_date: date_bound("startDate", query.start_date.as_deref(), false)?,
        end_date: date_bound("endDate", query.end_date.as_deref(), true)?,
    };
    Ok((request, others))
}

/// One execution with its task runs (EXECUTION:READ).
#[utoipa::path(get, path = "/executions/{id}", tag = "executions", params(ExecutionPath),
    responses((status = 200, body = Execution), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
) -> Result<Json<Execution>, ApiError> {
    let request = tenant.request(pb::GetExecutionRequest { id: path.id });
    let execution = state.executions.clone().get_execution(request).await?;
    Ok(Json(execution.into_inner().into()))
}

/// Kill a running execution (EXECUTION:UPDATE): KILLING now, KILLED once its tasks stopped.
#[utoipa::path(delete, path = "/executions/{id}/kill", tag = "executions", params(ExecutionPath),
    responses((status = 202, body = Execution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn kill(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let request = tenant.request(pb::KillExecutionRequest { id: path.id });
    let execution = state.executions.clone().kill_execution(request).await?;
    Ok((StatusCode::ACCEPTED, Json(execution.into_inner().into())))
}

/// Resume a FAILED or KILLED execution from its failed tasks (EXECUTION:UPDATE).
#[utoipa::path(post, path = "/executions/{id}/restart", tag = "executions", params(ExecutionPath),
    responses((status = 200, body = Execution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn restart(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
) -> Result<Json<Execution>, ApiError> {
    let request = tenant.request(pb::RestartExecutionRequest { id: path.id });
    let execution = state.executions.clone().restart_execution(request).await?;
    Ok(Json(execution.into_inner().into()))
}

/// Server-sent events: the execution now and after every change, until it ends.
#[utoipa::path(get, path = "/executions/{id}/follow", tag = "executions", params(ExecutionPath),
    responses((status = 200, description = "text/event-stream of Execution objects"),
              (status = 404, body = ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let request = tenant.request(pb::FollowExecutionRequest { id: path.id });
    let stream = state
        .executions
        .clone()
        .follow_execution(request)
        .await?
        .into_inner();
    let events = stream.map(|item| {
        Ok(match item {
            Ok(execution) => Event::default()
                .event("execution")
                .json_data(Execution::from(execution))
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(status) => Event::default()
                .event("error")
                .data(ApiError::from(status).message),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A file path of an execution.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// kestra:///... URI of a file of this execution.
    pub path: String,
}

/// Download a file of the execution from internal storage (EXECUTION:READ).
#[utoipa::path(get, path = "/executions/{id}/file", tag = "executions",
    params(ExecutionPath, FileQuery),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn file(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
    Query(query): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let request = tenant.request(pb::GetExecutionFileRequest {
        id: path.id,
        path: query.path,
    });
    let file = state
        .executions
        .clone()
        .get_execution_file(request)
        .await?
        .into_inner();
    Ok(attachment(&file.filename, file.content))
}

/// A download: octet-stream, `attachment` with the name made safe for the
/// header, so that no browser renders it (the REST API and the UI).
pub fn attachment(filename: &str, content: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\'], "_")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    (headers, content).into_response()
}

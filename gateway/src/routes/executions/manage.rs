//! Deleting executions, changing their labels, and Kestra's bulk calls:
//! delete, kill and restart by a list of ids or by a search query.
//!
//! A bulk call checks every execution first and changes nothing when one is
//! missing (or hidden from the caller) or in the wrong state: it answers 422
//! with each refused id, as Kestra does. Each change then goes through the
//! same single-execution call as the REST route for one execution, so the
//! permission checks, audit entries and tenant rules are those of that call;
//! one the caller may read but not change is refused there, and the answer
//! says the call was partly applied.

use aerie_proto::execution::v1 as pb;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Execution, ExecutionPath, parse_bool, parse_filters};
use crate::error::{ApiError, ErrorBody, JsonArray};
use crate::routes::flows::Label;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// Most executions one bulk call acts on: past it, narrow the query.
pub const MAX_BULK: usize = 10_000;

/// Changes applied at once by a bulk call.
const IN_FLIGHT: usize = 4;

/// How many executions a bulk call changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkResponse {
    pub count: u64,
}

/// One execution a bulk call refused.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invalid {
    /// The execution id.
    pub invalid_value: String,
    pub message: String,
}

/// Why a bulk call changed nothing (or, when `count` is above 0, changed
/// only some: an execution changed state between the check and the change).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkErrorResponse {
    pub message: String,
    /// Absent when the call itself was refused (no filter, too many).
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub invalids: Vec<Invalid>,
}

/// What a bulk call does to each execution.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Operation {
    Delete,
    Kill,
    Restart,
    Pause,
    Resume,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Delete => "delete",
            Operation::Kill => "kill",
            Operation::Restart => "restart",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
        }
    }

    /// The states a by-query call of this operation looks at when the
    /// query names none.
    fn default_states(self) -> &'static [&'static str] {
        match self {
            Operation::Delete => &["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"],
            Operation::Kill => &[
                "CREATED",
                "QUEUED",
                "RUNNING",
                "PAUSED",
                "KILLING",
                "RESTARTED",
            ],
            Operation::Restart => &["FAILED", "KILLED"],
            Operation::Pause => &["CREATED", "QUEUED", "RUNNING", "RESTARTED"],
            Operation::Resume => &["PAUSED"],
        }
    }

    /// Why `state` refuses this operation, if it does.
    fn refusal(self, state: &str) -> Option<&'static str> {
        let ended = matches!(
            state,
            "SUCCESS" | "WARNING" | "FAILED" | "KILLED" | "CANCELLED"
        );
        match self {
            Operation::Delete if !ended => Some("execution not ended: kill it first"),
            Operation::Kill if ended => Some("execution already finished"),
            Operation::Restart if !matches!(state, "FAILED" | "KILLED") => {
                Some("only a FAILED or KILLED execution can be restarted")
            }
            Operation::Pause
                if !matches!(state, "CREATED" | "QUEUED" | "RUNNING" | "RESTARTED") =>
            {
                Some("only a queued or running execution can be paused")
            }
            Operation::Resume if state != "PAUSED" => Some("execution is not paused"),
            _ => None,
        }
    }

    async fn apply(self, state: &AppState, tenant: &Tenant, id: String) -> Result<(), ApiError> {
        let executions = state.executions.clone();
        match self {
            Operation::Delete => {
                let mut executions = executions;
                executions
                    .delete_execution(tenant.request(pb::DeleteExecutionRequest { id }))
                    .await?;
            }
            Operation::Kill => {
                let mut executions = executions;
                executions
                    .kill_execution(tenant.request(pb::KillExecutionRequest { id }))
                    .await?;
            }
            Operation::Restart => {
                let mut executions = executions;
                executions
                    .restart_execution(tenant.request(pb::RestartExecutionRequest { id }))
                    .await?;
            }
            Operation::Pause => {
                let mut executions = executions;
                executions
                    .pause_execution(tenant.request(pb::PauseExecutionRequest { id }))
                    .await?;
            }
            Operation::Resume => {
                let mut executions = executions;
                executions
                    .resume_execution(tenant.request(pb::ResumeExecutionRequest {
                        id,
                        ..Default::default()
                    }))
                    .await?;
            }
        }
        Ok(())
    }
}

/// The delete options Kestra's clients send. Aerie keeps nothing of a
/// deleted execution, so keeping its logs or files is refused; it records
/// no per-execution metrics, so `deleteMetrics` changes nothing either way.
fn delete_options(
    others: Vec<(String, String)>,
    bulk: bool,
    allowed: &str,
) -> Result<(), ApiError> {
    for (key, value) in others {
        match key.as_str() {
            "deleteLogs" | "deleteStorage" => {
                if !parse_bool(&key, &value)? {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "{key}=false is not supported: an execution's logs and files are deleted with it"
                        ),
                    ));
                }
            }
            "deleteMetrics" => {
                parse_bool(&key, &value)?;
            }
            "includeNonTerminated" if bulk => {
                if parse_bool(&key, &value)? {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "includeNonTerminated=true is not supported: only ended executions are deleted; kill the others first",
                    ));
                }
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use {allowed}"),
                ));
            }
        }
    }
    Ok(())
}

const DELETE_OPTIONS: &str = "deleteLogs, deleteMetrics, deleteStorage";

/// Delete an ended execution with its task runs, logs and files (EXECUTION:DELETE).
#[utoipa::path(delete, path = "/executions/{id}", tag = "executions",
    params(ExecutionPath,
        ("deleteLogs" = Option<bool>, Query, description = "true (the default) only"),
        ("deleteMetrics" = Option<bool>, Query, description = "accepted; Aerie keeps no per-execution metrics"),
        ("deleteStorage" = Option<bool>, Query, description = "true (the default) only")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn delete_execution(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, ApiError> {
    let others = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    delete_options(others, false, DELETE_OPTIONS)?;
    Operation::Delete.apply(&state, &tenant, path.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add labels to an ended execution or change their values (EXECUTION:UPDATE); labels not sent keep theirs.
#[utoipa::path(post, path = "/executions/{id}/labels", tag = "executions",
    params(ExecutionPath), request_body = Vec<Label>,
    responses((status = 200, body = Execution), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_labels(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
    JsonArray(labels): JsonArray<Label>,
) -> Result<Json<Execution>, ApiError> {
    let request = tenant.request(pb::SetExecutionLabelsRequest {
        id: path.id,
        labels: labels.into_iter().map(|l| (l.key, l.value)).collect(),
    });
    let execution = state
        .executions
        .clone()
        .set_execution_labels(request)
        .await?;
    Ok(Json(execution.into_inner().into()))
}

/// Start a new execution of an ended one's flow with the same inputs and labels, at the same flow revision unless `revision` names another (EXECUTION:CREATE); with `taskRunId`, from that task run: the task runs that started before it are copied, it and what follows run again.
#[utoipa::path(post, path = "/executions/{id}/replay", tag = "executions",
    params(ExecutionPath,
        ("revision" = Option<i32>, Query, description = "the flow revision to run; default: the one the execution ran"),
        ("taskRunId" = Option<String>, Query, description = "replay from this task run of the execution")),
    responses((status = 200, body = Execution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replay(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Execution>, ApiError> {
    let mut revision = 0;
    let mut task_run_id = String::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "revision" => {
                revision = value.parse().map_err(|_| {
                    ApiError::new(StatusCode::BAD_REQUEST, "revision must be a number")
                })?
            }
            "taskRunId" => task_run_id = value.into_owned(),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use revision or taskRunId"),
                ));
            }
        }
    }
    let request = tenant.request(pb::ReplayExecutionRequest {
        id: path.id,
        revision,
        task_run_id,
    });
    let execution = state.executions.clone().replay_execution(request).await?;
    Ok(Json(execution.into_inner().into()))
}

/// Pause a queued or running execution (EXECUTION:UPDATE): PAUSED within about a second; its running tasks stop where they are and go on, with the rest, when it is resumed.
#[utoipa::path(post, path = "/executions/{id}/pause", tag = "executions",
    params(ExecutionPath),
    responses((status = 202, body = Execution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn pause(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let request = tenant.request(pb::PauseExecutionRequest { id: path.id });
    let execution = state.executions.clone().pause_execution(request).await?;
    Ok((StatusCode::ACCEPTED, Json(execution.into_inner().into())))
}

/// Resume a PAUSED execution (EXECUTION:UPDATE): its Pause tasks go on, given the inputs their `onResume` declares (checked like an execution's inputs; 422 when a Pause task declares none).
#[utoipa::path(post, path = "/executions/{id}/resume", tag = "executions",
    params(ExecutionPath),
    request_body(content = serde_json::Value, description = "the onResume inputs: a JSON object, or multipart/form-data with files for FILE inputs; none when the Pause tasks declare none"),
    responses((status = 200, body = Execution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<ExecutionPath>,
    inputs: super::Inputs,
) -> Result<Json<Execution>, ApiError> {
    let (values, files) = inputs.into_parts();
    let request = tenant.request(pb::ResumeExecutionRequest {
        id: path.id,
        inputs: aerie_proto::wire::to_struct(serde_json::Value::Object(values)),
        files,
    });
    let execution = state.executions.clone().resume_execution(request).await?;
    Ok(Json(execution.into_inner().into()))
}

/// Checks each execution, then applies `operation` to all of them, or to
/// none when one is refused.
async fn bulk(
    state: &AppState,
    tenant: &Tenant,
    operation: Operation,
    ids: Vec<String>,
) -> Result<Response, ApiError> {
    if ids.len() > MAX_BULK {
        return Err(too_many(ids.len()));
    }
    let mut unique = std::collections::BTreeSet::new();
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| unique.insert(id.clone()))
        .collect();
    let checks = futures::stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let request = tenant.request(pb::GetExecutionRequest { id: id.clone() });
            let found = state.executions.clone().get_execution(request).await;
            let refusal = match found {
                Ok(execution) => {
                    let current = execution.into_inner().state.unwrap_or_default().current;
                    operation
                        .refusal(super::state_name_of(current))
                        .map(str::to_owned)
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    Some("execution not found".to_owned())
                }
                Err(status) => Some(ApiError::from(status).message),
            };
            refusal.map(|message| Invalid {
                invalid_value: id,
                message,
            })
        })
        .buffered(IN_FLIGHT)
        .filter_map(|refused| async move { refused })
        .collect::<Vec<Invalid>>()
        .await;
    if !checks.is_empty() {
        return Ok(refused(
            format!("invalid bulk {}", operation.name()),
            0,
            checks,
        ));
    }
    let failures = futures::stream::iter(ids.iter().cloned())
        .map(|id| async move {
            operation
                .apply(state, tenant, id.clone())
                .await
                .err()
                .map(|err| Invalid {
                    invalid_value: id,
                    message: err.message,
                })
        })
        .buffered(IN_FLIGHT)
        .filter_map(|failed| async move { failed })
        .collect::<Vec<Invalid>>()
        .await;
    let count = (ids.len() - failures.len()) as u64;
    if !failures.is_empty() {
        return Ok(refused(
            format!("bulk {} partly applied", operation.name()),
            count,
            failures,
        ));
    }
    Ok(Json(BulkResponse { count }).into_response())
}

fn refused(message: String, count: u64, invalids: Vec<Invalid>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(BulkErrorResponse {
            message,
            count,
            invalids,
        }),
    )
        .into_response()
}

fn too_many(count: usize) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{count} executions: a bulk call acts on at most {MAX_BULK}; narrow it down"),
    )
}

/// The ids of every execution a query matches (at most [`MAX_BULK`]).
async fn matching(
    state: &AppState,
    tenant: &Tenant,
    mut search: pb::SearchExecutionsRequest,
) -> Result<Vec<String>, ApiError> {
    const PAGE: u32 = 1000;
    let mut ids = Vec::new();
    search.size = PAGE;
    search.sort = "created:asc".into();
    for page in 1.. {
        search.page = page;
        let found = state
            .executions
            .clone()
            .search_executions(tenant.request(search.clone()))
            .await?
            .into_inner();
        if found.total as usize > MAX_BULK {
            return Err(too_many(found.total as usize));
        }
        let last = found.results.len() < PAGE as usize;
        ids.extend(found.results.into_iter().map(|e| e.id));
        if last || ids.len() >= found.total as usize {
            break;
        }
    }
    Ok(ids)
}

/// The search of a by-query call, and its other parameters.
fn by_query_filters(
    raw: Option<String>,
) -> Result<(pb::SearchExecutionsRequest, Vec<(String, String)>), ApiError> {
    let (search, others) = parse_filters(raw, false)?;
    if search.namespace.is_empty()
        && search.flow_id.is_empty()
        && search.state.is_empty()
        && search.start_date.is_none()
        && search.end_date.is_none()
    {
        // Kestra acts on every execution then; a typo must not do that.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a by-query call needs at least one filter: namespace, flowId, state, startDate or endDate",
        ));
    }
    Ok((search, others))
}

fn no_others(others: Vec<(String, String)>) -> Result<(), ApiError> {
    match others.first() {
        None => Ok(()),
        Some((other, _)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown query parameter '{other}': use namespace, flowId, state, startDate, endDate"
            ),
        )),
    }
}

/// Delete ended executions by id (EXECUTION:DELETE on each).
#[utoipa::path(delete, path = "/executions/by-ids", tag = "executions",
    params(("deleteLogs" = Option<bool>, Query, description = "true (the default) only"),
           ("deleteMetrics" = Option<bool>, Query, description = "accepted; Aerie keeps no per-execution metrics"),
           ("deleteStorage" = Option<bool>, Query, description = "true (the default) only"),
           ("includeNonTerminated" = Option<bool>, Query, description = "false (the default) only")),
    request_body = Vec<String>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn delete_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
    JsonArray(ids): JsonArray<String>,
) -> Result<Response, ApiError> {
    let others = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    delete_options(
        others,
        true,
        "deleteLogs, deleteMetrics, deleteStorage, includeNonTerminated",
    )?;
    bulk(&state, &tenant, Operation::Delete, ids).await
}

/// Delete the ended executions a search matches (EXECUTION:DELETE on each).
#[utoipa::path(delete, path = "/executions/by-query", tag = "executions",
    params(("namespace" = Option<String>, Query), ("flowId" = Option<String>, Query),
           ("state" = Option<Vec<String>>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query),
           ("deleteLogs" = Option<bool>, Query, description = "true (the default) only"),
           ("deleteMetrics" = Option<bool>, Query, description = "accepted; Aerie keeps no per-execution metrics"),
           ("deleteStorage" = Option<bool>, Query, description = "true (the default) only"),
           ("includeNonTerminated" = Option<bool>, Query, description = "false (the default) only")),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn delete_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let options = |others| {
        delete_options(
            others,
            true,
            "namespace, flowId, state, startDate, endDate, deleteLogs, deleteMetrics, deleteStorage, includeNonTerminated",
        )
    };
    by_query(&state, &tenant, raw, Operation::Delete, options).await
}

/// Kill running executions by id (EXECUTION:UPDATE on each).
#[utoipa::path(delete, path = "/executions/kill/by-ids", tag = "executions",
    request_body = Vec<String>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn kill_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<String>,
) -> Result<Response, ApiError> {
    bulk(&state, &tenant, Operation::Kill, ids).await
}

/// Kill the running executions a search matches (EXECUTION:UPDATE on each).
#[utoipa::path(delete, path = "/executions/kill/by-query", tag = "executions",
    params(("namespace" = Option<String>, Query), ("flowId" = Option<String>, Query),
           ("state" = Option<Vec<String>>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn kill_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    by_query(&state, &tenant, raw, Operation::Kill, no_others).await
}

/// A by-query call of `operation`: the executions the search matches (in
/// the states the operation takes, when the query names none); `options`
/// takes the query's other parameters or refuses them.
async fn by_query(
    state: &AppState,
    tenant: &Tenant,
    raw: Option<String>,
    operation: Operation,
    options: impl FnOnce(Vec<(String, String)>) -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    let (mut search, others) = by_query_filters(raw)?;
    options(others)?;
    if search.state.is_empty() {
        search.state = operation
            .default_states()
            .iter()
            .map(|s| super::state_of_name(s))
            .collect::<Result<_, _>>()?;
    }
    let ids = matching(state, tenant, search).await?;
    bulk(state, tenant, operation, ids).await
}

/// Restart FAILED or KILLED executions by id (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/restart/by-ids", tag = "executions",
    request_body = Vec<String>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn restart_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<String>,
) -> Result<Response, ApiError> {
    bulk(&state, &tenant, Operation::Restart, ids).await
}

/// Restart the FAILED or KILLED executions a search matches (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/restart/by-query", tag = "executions",
    params(("namespace" = Option<String>, Query), ("flowId" = Option<String>, Query),
           ("state" = Option<Vec<String>>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn restart_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    by_query(&state, &tenant, raw, Operation::Restart, no_others).await
}

/// Pause queued or running executions by id (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/pause/by-ids", tag = "executions",
    request_body = Vec<String>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn pause_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<String>,
) -> Result<Response, ApiError> {
    bulk(&state, &tenant, Operation::Pause, ids).await
}

/// Pause the queued or running executions a search matches (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/pause/by-query", tag = "executions",
    params(("namespace" = Option<String>, Query), ("flowId" = Option<String>, Query),
           ("state" = Option<Vec<String>>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn pause_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    by_query(&state, &tenant, raw, Operation::Pause, no_others).await
}

/// Resume PAUSED executions by id (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/resume/by-ids", tag = "executions",
    request_body = Vec<String>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn resume_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<String>,
) -> Result<Response, ApiError> {
    bulk(&state, &tenant, Operation::Resume, ids).await
}

/// Resume the PAUSED executions a search matches (EXECUTION:UPDATE on each).
#[utoipa::path(post, path = "/executions/resume/by-query", tag = "executions",
    params(("namespace" = Option<String>, Query), ("flowId" = Option<String>, Query),
           ("state" = Option<Vec<String>>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn resume_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    by_query(&state, &tenant, raw, Operation::Resume, no_others).await
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_execution))
        .routes(routes!(set_labels))
        .routes(routes!(resume))
        .routes(routes!(pause))
        .routes(routes!(replay))
        .routes(routes!(pause_by_ids))
        .routes(routes!(pause_by_query))
        .routes(routes!(resume_by_ids))
        .routes(routes!(resume_by_query))
        .routes(routes!(delete_by_ids))
        .routes(routes!(delete_by_query))
        .routes(routes!(kill_by_ids))
        .routes(routes!(kill_by_query))
        .routes(routes!(restart_by_ids))
        .routes(routes!(restart_by_query))
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn each_operation_refuses_the_states_kestra_refuses() {
        assert!(Operation::Delete.refusal("RUNNING").is_some());
        assert!(Operation::Delete.refusal("SUCCESS").is_none());
        assert!(Operation::Kill.refusal("SUCCESS").is_some());
        assert!(Operation::Kill.refusal("RUNNING").is_none());
        assert!(Operation::Restart.refusal("SUCCESS").is_some());
        assert!(Operation::Restart.refusal("KILLED").is_none());
        assert!(Operation::Restart.refusal("FAILED").is_none());
        assert!(Operation::Pause.refusal("PAUSED").is_some());
        assert!(Operation::Pause.refusal("RUNNING").is_none());
        assert!(Operation::Resume.refusal("RUNNING").is_some());
        assert!(Operation::Resume.refusal("PAUSED").is_none());
    }
}

//! `/api/v1{t}/logs`: one execution's log lines (as JSON, as a text
//! download, or followed as server-sent events) and a search over the
//! tenant's, in the namespaces the caller may read executions of.

use std::convert::Infallible;

use aerie_proto::execution::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::date_bound;
use crate::error::{ApiError, ErrorBody};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// An execution in the logs path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LogsPath {
    pub execution_id: String,
}

/// A log line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub level: String,
    /// RFC 3339.
    pub timestamp: Option<String>,
    /// Secret values appear as ******.
    pub message: String,
}

impl From<pb::LogLine> for LogLine {
    fn from(line: pb::LogLine) -> Self {
        let some = |text: String| (!text.is_empty()).then_some(text);
        LogLine {
            timestamp: rfc3339(line.timestamp),
            namespace: line.namespace,
            flow_id: line.flow_id,
            execution_id: line.execution_id,
            task_run_id: some(line.task_run_id),
            task_id: some(line.task_id),
            level: pb::LogLevel::try_from(line.level)
                .unwrap_or_default()
                .short_name()
                .to_owned(),
            message: line.message,
        }
    }
}

/// Log filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// TRACE, DEBUG, INFO, WARN or ERROR: this level and above.
    pub min_level: Option<String>,
}

/// A `minLevel` on the wire (any case, as Kestra takes it); absent means
/// every level.
fn level_of(name: Option<&str>) -> Result<i32, ApiError> {
    match name {
        None | Some("") => Ok(pb::LogLevel::Unspecified as i32),
        Some(name) => pb::LogLevel::from_short_name(&name.to_ascii_uppercase())
            .map(|l| l as i32)
            .ok_or_else(|| {
                ApiError::from(tonic::Status::invalid_argument(
                    "log level must be one of TRACE, DEBUG, INFO, WARN, ERROR",
                ))
            }),
    }
}

async fn lines_of(
    state: &AppState,
    tenant: &Tenant,
    execution_id: String,
    min_level: Option<String>,
) -> Result<Vec<pb::LogLine>, ApiError> {
    let request = tenant.request(pb::ListLogsRequest {
        execution_id,
        min_level: level_of(min_level.as_deref())?,
    });
    Ok(state
        .executions
        .clone()
        .list_logs(request)
        .await?
        .into_inner()
        .logs)
}

/// The log lines of an execution, oldest first (EXECUTION:READ).
#[utoipa::path(get, path = "/logs/{execution_id}", tag = "executions",
    params(LogsPath, LogQuery),
    responses((status = 200, body = Vec<LogLine>), (status = 404, body = ErrorBody)))]
async fn logs(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<LogsPath>,
    Query(query): Query<LogQuery>,
) -> Result<Json<Vec<LogLine>>, ApiError> {
    let lines = lines_of(&state, &tenant, path.execution_id, query.min_level).await?;
    Ok(Json(lines.into_iter().map(Into::into).collect()))
}

/// The log lines of an execution as a text file, one line each, oldest first (EXECUTION:READ).
#[utoipa::path(get, path = "/logs/{execution_id}/download", tag = "executions",
    params(LogsPath, LogQuery),
    responses((status = 200, description = "`<timestamp> <level> <message>` per line", content_type = "text/plain"),
              (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<LogsPath>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let id = path.execution_id;
    let lines = lines_of(&state, &tenant, id.clone(), query.min_level).await?;
    let mut text = String::new();
    for line in lines {
        let line = LogLine::from(line);
        text.push_str(&format!(
            "{} {} {}\n",
            line.timestamp.unwrap_or_default(),
            line.level,
            line.message
        ));
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The id was found in the tenant, so it is an execution id: safe in a header.
    if let Ok(value) = header::HeaderValue::from_str(&format!("attachment; filename=\"{id}.log\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok((headers, text).into_response())
}

/// Server-sent events: the execution's log lines so far, then each new one until it has ended (EXECUTION:READ).
#[utoipa::path(get, path = "/logs/{execution_id}/follow", tag = "executions",
    params(LogsPath, LogQuery),
    responses((status = 200, description = "text/event-stream of LogLine objects"),
              (status = 404, body = ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<LogsPath>,
    Query(query): Query<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let request = tenant.request(pb::FollowLogsRequest {
        execution_id: path.execution_id,
        min_level: level_of(query.min_level.as_deref())?,
    });
    let stream = state
        .executions
        .clone()
        .follow_logs(request)
        .await?
        .into_inner();
    let events = stream.map(|item| {
        Ok(match item {
            Ok(line) => Event::default()
                .event("log")
                .json_data(LogLine::from(line))
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(status) => Event::default()
                .event("error")
                .data(ApiError::from(status).message),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Filters and paging of a log search.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogSearchQuery {
    /// Lines whose message contains this text, ignoring case.
    pub q: Option<String>,
    /// Executions in this namespace and its children.
    pub namespace: Option<String>,
    #[param(rename = "flowId")]
    pub flow_id: Option<String>,
    #[param(rename = "executionId")]
    pub execution_id: Option<String>,
    /// TRACE, DEBUG, INFO, WARN or ERROR: this level and above.
    #[param(rename = "minLevel")]
    pub min_level: Option<String>,
    /// Logged at or after: RFC 3339, or a date (midnight UTC).
    #[param(rename = "startDate")]
    pub start_date: Option<String>,
    /// Logged before: RFC 3339, or a date (that whole day included).
    #[param(rename = "endDate")]
    pub end_date: Option<String>,
    pub page: Option<u32>,
    pub size: Option<u32>,
}

/// A page of log lines.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub results: Vec<LogLine>,
    pub total: u64,
}

/// Search the log lines of the tenant's executions, newest first (EXECUTION:READ: the namespaces the caller may read).
#[utoipa::path(get, path = "/logs/search", tag = "executions", params(LogSearchQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<LogPage>, ApiError> {
    let mut query = LogSearchQuery::default();
    let number = |name: &str, value: &str| {
        value
            .parse::<u32>()
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("{name} must be a number")))
    };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "q" => query.q = Some(value),
            "namespace" => query.namespace = Some(value),
            "flowId" => query.flow_id = Some(value),
            "executionId" => query.execution_id = Some(value),
            "minLevel" => query.min_level = Some(value),
            "startDate" => query.start_date = Some(value),
            "endDate" => query.end_date = Some(value),
            "page" => query.page = Some(number("page", &value)?),
            "size" => query.size = Some(number("size", &value)?),
            "triggerId" => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "triggerId is not supported: Aerie keeps log lines of executions only",
                ));
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown query parameter '{other}': use q, namespace, flowId, executionId, minLevel, startDate, endDate, page, size"
                    ),
                ));
            }
        }
    }
    let request = tenant.request(pb::SearchLogsRequest {
        namespace: query.namespace.unwrap_or_default(),
        flow_id: query.flow_id.unwrap_or_default(),
        execution_id: query.execution_id.unwrap_or_default(),
        min_level: level_of(query.min_level.as_deref())?,
        query: query.q.unwrap_or_default(),
        start_date: date_bound("startDate", query.start_date.as_deref(), false)?,
        end_date: date_bound("endDate", query.end_date.as_deref(), true)?,
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
    });
    let found = state
        .executions
        .clone()
        .search_logs(request)
        .await?
        .into_inner();
    Ok(Json(LogPage {
        results: found.results.into_iter().map(Into::into).collect(),
        total: found.total,
    }))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(logs))
        .routes(routes!(download))
        .routes(routes!(follow))
}

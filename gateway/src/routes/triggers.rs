//! `/api/v1{t}/triggers`: trigger definitions of live flows, and Kestra's
//! trigger toggle (disable or enable without a new flow revision).

use aerie_proto::flow::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody, JsonArray, JsonBody};
use crate::routes::executions::manage::{BulkErrorResponse, BulkResponse, Invalid};
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// A trigger of a flow (a webhook's key is not shown: it is a credential).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Schedule triggers only.
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub disabled: bool,
    pub flow_revision: i32,
}

/// A page of triggers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriggerPage {
    pub results: Vec<Trigger>,
    pub total: u64,
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TriggerQuery {
    /// This namespace and its children.
    pub namespace: Option<String>,
    /// Text matched in flow and trigger ids.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub size: Option<u32>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(update))
        .routes(routes!(set_disabled_by_triggers))
        .routes(routes!(set_disabled_by_query))
        .routes(routes!(unlock))
        .routes(routes!(unlock_by_triggers))
        .routes(routes!(unlock_by_query))
}

/// Body of `PUT /triggers`: Kestra's clients send the whole trigger; only
/// `disabled` changes, as in Kestra. Its other fields (dates, execution id)
/// are ignored there too, so they are here; a backfill is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerUpdate {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub disabled: bool,
    /// Not supported: must be absent or null.
    #[schema(value_type = Option<Object>)]
    pub backfill: Option<serde_json::Value>,
}

async fn toggle(
    state: &AppState,
    tenant: &Tenant,
    namespace: String,
    flow_id: String,
    trigger_id: String,
    disabled: bool,
) -> Result<Trigger, ApiError> {
    let request = tenant.request(pb::SetTriggerDisabledRequest {
        namespace,
        flow_id,
        trigger_id,
        disabled,
    });
    Ok(state
        .triggers
        .clone()
        .set_trigger_disabled(request)
        .await?
        .into_inner()
        .into())
}

/// Disable or enable a trigger without a new flow revision (FLOW:UPDATE); it stays so across the flow's updates.
#[utoipa::path(put, path = "/triggers", tag = "triggers", request_body = TriggerUpdate,
    responses((status = 200, body = Trigger), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<TriggerUpdate>,
) -> Result<Json<Trigger>, ApiError> {
    if body.backfill.as_ref().is_some_and(|b| !b.is_null()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "backfill is not supported: Aerie does not backfill Schedule triggers",
        ));
    }
    let trigger = toggle(
        &state,
        &tenant,
        body.namespace,
        body.flow_id,
        body.trigger_id,
        body.disabled,
    )
    .await?;
    Ok(Json(trigger))
}

/// A trigger's address, as Kestra's bulk calls send it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRef {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

impl TriggerRef {
    /// `namespace.flowId.triggerId`, as bulk answers name a trigger.
    fn name(&self) -> String {
        format!("{}.{}.{}", self.namespace, self.flow_id, self.trigger_id)
    }
}

/// Body of `POST /triggers/set-disabled/by-triggers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDisabled {
    pub triggers: Vec<TriggerRef>,
    pub disabled: bool,
}

/// Most triggers one bulk call changes.
const MAX_TRIGGERS: usize = 1000;

fn within_bulk_limit(count: usize) -> Result<(), ApiError> {
    if count > MAX_TRIGGERS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{count} triggers: a bulk call takes at most {MAX_TRIGGERS}"),
        ));
    }
    Ok(())
}

/// How many changed, or (422) the triggers that could not be.
fn bulk_answer(count: u64, invalids: Vec<Invalid>) -> Result<Response, ApiError> {
    if invalids.is_empty() {
        return Ok(Json(BulkResponse { count }).into_response());
    }
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(BulkErrorResponse {
            message: format!("{} of the triggers could not be changed", invalids.len()),
            count,
            invalids,
        }),
    )
        .into_response())
}

/// Toggles each trigger; those that fail are listed.
async fn toggle_all(
    state: &AppState,
    tenant: &Tenant,
    triggers: Vec<TriggerRef>,
    disabled: bool,
) -> Result<Response, ApiError> {
    within_bulk_limit(triggers.len())?;
    let mut count = 0;
    let mut invalids = Vec::new();
    for t in triggers {
        let name = t.name();
        match toggle(
            state,
            tenant,
            t.namespace,
            t.flow_id,
            t.trigger_id,
            disabled,
        )
        .await
        {
            Ok(_) => count += 1,
            Err(err) => invalids.push(Invalid {
                invalid_value: name,
                message: err.message,
            }),
        }
    }
    bulk_answer(count, invalids)
}

/// Disable or enable the triggers named (FLOW:UPDATE on each); answers how many changed, or lists those that could not.
#[utoipa::path(post, path = "/triggers/set-disabled/by-triggers", tag = "triggers",
    request_body = SetDisabled,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn set_disabled_by_triggers(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<SetDisabled>,
) -> Result<Response, ApiError> {
    toggle_all(&state, &tenant, body.triggers, body.disabled).await
}

/// Disable or enable the triggers a search matches (`q` or `namespace` required; FLOW:UPDATE on each).
#[utoipa::path(post, path = "/triggers/set-disabled/by-query", tag = "triggers",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query),
           ("disabled" = bool, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn set_disabled_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (mut q, mut namespace, mut disabled) = (String::new(), String::new(), None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => q = value.into_owned(),
            "namespace" => namespace = value.into_owned(),
            "disabled" => {
                disabled = Some(crate::routes::executions::parse_bool("disabled", &value)?)
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use q, namespace, disabled"),
                ));
            }
        }
    }
    let disabled = disabled.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "disabled=true or false is required",
        )
    })?;
    let matched = matching(&state, &tenant, q, namespace).await?;
    toggle_all(&state, &tenant, matched, disabled).await
}

/// The triggers a by-query call matches: at most [`MAX_TRIGGERS`].
async fn matching(
    state: &AppState,
    tenant: &Tenant,
    q: String,
    namespace: String,
) -> Result<Vec<TriggerRef>, ApiError> {
    if q.is_empty() && namespace.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a by-query call needs at least one filter: q or namespace",
        ));
    }
    let mut matched = Vec::new();
    for page in 1.. {
        let found = state
            .triggers
            .clone()
            .search_triggers(tenant.request(pb::SearchTriggersRequest {
                namespace: namespace.clone(),
                q: q.clone(),
                page,
                size: 1000,
            }))
            .await?
            .into_inner();
        if found.total as usize > MAX_TRIGGERS {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{} triggers match: a bulk call takes at most {MAX_TRIGGERS}; narrow it down",
                    found.total
                ),
            ));
        }
        let last = found.results.len() < 1000;
        matched.extend(found.results.into_iter().map(|t| TriggerRef {
            namespace: t.namespace,
            flow_id: t.flow_id,
            trigger_id: t.trigger_id,
        }));
        if last || matched.len() >= found.total as usize {
            break;
        }
    }
    Ok(matched)
}

/// A trigger in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
pub struct TriggerPath {
    pub namespace: String,
    #[param(rename = "flowId")]
    pub flow_id: String,
    #[param(rename = "triggerId")]
    pub trigger_id: String,
}

/// Kestra's unlock of a trigger held by its running execution. Aerie never holds a trigger (a Schedule tick fires whether or not the last execution ended; a flow's `concurrency` limits overlap), so a trigger that exists answers 409 "not locked", as Kestra answers for a trigger that is not locked.
#[utoipa::path(post, path = "/triggers/{namespace}/{flowId}/{triggerId}/unlock", tag = "triggers",
    params(TriggerPath),
    responses((status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unlock(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path): Path<TriggerPath>,
) -> Result<Json<Trigger>, ApiError> {
    let trigger = TriggerRef {
        namespace: path.namespace,
        flow_id: path.flow_id,
        trigger_id: path.trigger_id,
    };
    let name = trigger.name();
    if !visible(&state, &tenant, &trigger).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("trigger {name} not found"),
        ));
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "trigger {name} is not locked: Aerie never locks a trigger while its execution runs"
        ),
    ))
}

/// Whether the caller sees this trigger: found the way a toggle finds it,
/// through every page of the search.
async fn visible(
    state: &AppState,
    tenant: &Tenant,
    trigger: &TriggerRef,
) -> Result<bool, ApiError> {
    const PAGE: u32 = 1000;
    for page in 1.. {
        let request = tenant.request(pb::SearchTriggersRequest {
            namespace: trigger.namespace.clone(),
            q: trigger.trigger_id.clone(),
            page,
            size: PAGE,
        });
        let found = state
            .triggers
            .clone()
            .search_triggers(request)
            .await?
            .into_inner();
        if found.results.iter().any(|t| {
            t.namespace == trigger.namespace
                && t.flow_id == trigger.flow_id
                && t.trigger_id == trigger.trigger_id
        }) {
            return Ok(true);
        }
        if found.results.len() < PAGE as usize || u64::from(page * PAGE) >= found.total {
            break;
        }
    }
    Ok(false)
}

/// Kestra's bulk unlock: how many of the triggers named were unlocked.
/// Aerie never locks a trigger, so that is none; a trigger the caller
/// cannot see is listed as not found, as a toggle lists it.
#[utoipa::path(post, path = "/triggers/unlock/by-triggers", tag = "triggers",
    request_body = Vec<TriggerRef>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn unlock_by_triggers(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(triggers): JsonArray<TriggerRef>,
) -> Result<Response, ApiError> {
    unlock_all(&state, &tenant, triggers).await
}

/// Kestra's bulk unlock of the triggers a search matches (`q` or `namespace` required): none is locked in Aerie, so the count is 0.
#[utoipa::path(post, path = "/triggers/unlock/by-query", tag = "triggers",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn unlock_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (mut q, mut namespace) = (String::new(), String::new());
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => q = value.into_owned(),
            "namespace" => namespace = value.into_owned(),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use q, namespace"),
                ));
            }
        }
    }
    // What a search matched, the caller sees; none of it is locked.
    matching(&state, &tenant, q, namespace).await?;
    bulk_answer(0, Vec::new())
}

/// Unlocks nothing (nothing is locked), after checking that the caller
/// sees each trigger.
async fn unlock_all(
    state: &AppState,
    tenant: &Tenant,
    triggers: Vec<TriggerRef>,
) -> Result<Response, ApiError> {
    within_bulk_limit(triggers.len())?;
    let mut invalids = Vec::new();
    // A trigger named twice is looked up once.
    let mut seen = std::collections::BTreeSet::new();
    for trigger in triggers.into_iter().filter(|t| seen.insert(t.name())) {
        if !visible(state, tenant, &trigger).await? {
            invalids.push(Invalid {
                message: format!("trigger {} not found", trigger.name()),
                invalid_value: trigger.name(),
            });
        }
    }
    bulk_answer(0, invalids)
}

/// Search the triggers of the tenant's live flows (FLOW:READ).
#[utoipa::path(get, path = "/triggers/search", tag = "triggers", params(TriggerQuery),
    responses((status = 200, body = TriggerPage), (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<TriggerQuery>,
) -> Result<Json<TriggerPage>, ApiError> {
    let request = tenant.request(pb::SearchTriggersRequest {
        namespace: query.namespace.unwrap_or_default(),
        q: query.q.unwrap_or_default(),
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
    });
    let page = state
        .triggers
        .clone()
        .search_triggers(request)
        .await?
        .into_inner();
    Ok(Json(TriggerPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

impl From<pb::Trigger> for Trigger {
    fn from(t: pb::Trigger) -> Self {
        let some = |text: String| (!text.is_empty()).then_some(text);
        Trigger {
            namespace: t.namespace,
            flow_id: t.flow_id,
            trigger_id: t.trigger_id,
            kind: t.r#type,
            cron: some(t.cron),
            timezone: some(t.timezone),
            disabled: t.disabled,
            flow_revision: t.flow_revision,
        }
    }
}

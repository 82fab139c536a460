//! `/api/v1{t}/triggers/search`: trigger definitions of live flows.

use aerie_proto::flow::v1 as pb;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
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
    OpenApiRouter::new().routes(routes!(search))
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

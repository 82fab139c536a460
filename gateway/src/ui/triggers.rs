//! The triggers of the tenant's flows (a webhook's key is never shown: it
//! is a credential), each disabled or enabled here without a new flow
//! revision, through the same call as `PUT /api/v1{t}/triggers`.

use aerie_proto::flow::v1 as pb;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::page::{Chrome, Pager, UiError, render};
use super::session::Form;
use super::{Here, Session};
use crate::routes::triggers::Trigger;
use crate::state::AppState;

const PAGE_SIZE: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/triggers", get(list)).route(
        "/triggers/{namespace}/{flow_id}/{trigger_id}/toggle",
        post(toggle),
    )
}

#[derive(Debug, serde::Deserialize)]
struct TriggerPath {
    namespace: String,
    flow_id: String,
    trigger_id: String,
}

/// Disables or enables one trigger (`disabled=true|false` in the form),
/// then back to the list filtered on its flow.
async fn toggle(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(TriggerPath {
        namespace,
        flow_id,
        trigger_id,
    }): Path<TriggerPath>,
    form: Form,
) -> Result<Response, UiError> {
    let disabled = form.get("disabled") == Some("true");
    state
        .triggers
        .clone()
        .set_trigger_disabled(here.request(
            &session,
            pb::SetTriggerDisabledRequest {
                namespace: namespace.clone(),
                flow_id: flow_id.clone(),
                trigger_id,
                disabled,
            },
        ))
        .await?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("namespace", &namespace)
        .append_pair("q", &flow_id)
        .finish();
    Ok(Redirect::to(&format!("{}/triggers?{query}", here.base)).into_response())
}

#[derive(Debug, Default, Serialize)]
struct TriggerFilter {
    q: String,
    namespace: String,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let mut filter = TriggerFilter::default();
    let mut page_number = 1;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => filter.q = value.into_owned(),
            "namespace" => filter.namespace = value.into_owned(),
            "page" => page_number = Pager::requested(&value),
            _ => {}
        }
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "triggers").await?;
    let page = state
        .triggers
        .clone()
        .search_triggers(here.request(
            &session,
            pb::SearchTriggersRequest {
                namespace: filter.namespace.clone(),
                q: filter.q.clone(),
                page: page_number,
                size: PAGE_SIZE,
            },
        ))
        .await?
        .into_inner();
    let pager = Pager::new(
        &format!("{}/triggers", here.base),
        &[("q", &filter.q), ("namespace", &filter.namespace)],
        page_number,
        PAGE_SIZE,
        page.total,
    );
    let triggers: Vec<Trigger> = page.results.into_iter().map(Into::into).collect();
    render(
        StatusCode::OK,
        "Triggers",
        "triggers.html",
        context! { chrome, triggers, total => page.total, filter, pager_html => pager.html()? },
    )
}

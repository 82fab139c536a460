//! The triggers of the tenant's flows (a webhook's key is never shown: it
//! is a credential).

use aerie_proto::flow::v1 as pb;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::page::{Chrome, Pager, UiError, render};
use super::{Here, Session};
use crate::routes::triggers::Trigger;
use crate::state::AppState;

const PAGE_SIZE: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/triggers", get(list))
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

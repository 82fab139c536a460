//! The tenant's audit log, newest first (AUDITLOG:READ).

use aerie_proto::auth::v1 as pb;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::page::{Chrome, Pager, UiError, render};
use super::{Here, Session};
use crate::routes::audit::AuditLog;
use crate::state::AppState;

const PAGE_SIZE: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/auditlogs", get(list))
}

#[derive(Debug, Default, Serialize)]
struct AuditFilter {
    resource_type: String,
    resource_id: String,
}

/// An entry as the page shows it: details as JSON text.
#[derive(Debug, Serialize)]
struct Row {
    entry: AuditLog,
    details: String,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let mut filter = AuditFilter::default();
    let mut page_number = 1;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "resourceType" => filter.resource_type = value.into_owned(),
            "resourceId" => filter.resource_id = value.into_owned(),
            "page" => page_number = Pager::requested(&value),
            _ => {}
        }
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "auditlogs").await?;
    let page = state
        .audit
        .clone()
        .search_audit_logs(here.request(
            &session,
            pb::SearchAuditLogsRequest {
                page: page_number,
                size: PAGE_SIZE,
                resource_type: filter.resource_type.clone(),
                resource_id: filter.resource_id.clone(),
            },
        ))
        .await?
        .into_inner();
    let pager = Pager::new(
        &format!("{}/auditlogs", here.base),
        &[
            ("resourceType", &filter.resource_type),
            ("resourceId", &filter.resource_id),
        ],
        page_number,
        PAGE_SIZE,
        page.total,
    );
    let rows: Vec<Row> = page
        .results
        .into_iter()
        .map(|entry| {
            let entry = AuditLog::from(entry);
            let details = match &entry.details {
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            Row { entry, details }
        })
        .collect();
    render(
        StatusCode::OK,
        "Audit log",
        "audit.html",
        context! { chrome, rows, total => page.total, filter, pager_html => pager.html()? },
    )
}

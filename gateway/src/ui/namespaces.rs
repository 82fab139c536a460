//! Namespace pages: the tenant's namespaces, and one namespace's secret keys
//! (never values) and KV entries (keys, types and expiry; values stay in
//! the API, which audits their reads).

use aerie_proto::flow::v1 as pb;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::page::{Chrome, UiError, allowed, path_segment, render};
use super::{Here, Session};
use crate::routes::namespaces::{KvEntry, SecretKey};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces", get(list))
        .route("/namespaces/{namespace}", get(show))
}

/// The namespaces that hold flows; `?name=` opens any namespace by name.
async fn list(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    if let Some((_, name)) = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(key, value)| key == "name" && !value.trim().is_empty())
    {
        let name = path_segment(name.trim());
        return Ok(Redirect::to(&format!("{}/namespaces/{name}", here.base)).into_response());
    }
    let chrome = Chrome::load(&state, &session, Some(&here), "namespaces").await?;
    let namespaces = state
        .flows
        .clone()
        .list_namespaces(here.request(&session, pb::ListNamespacesRequest { q: String::new() }))
        .await?
        .into_inner()
        .namespaces;
    render(
        StatusCode::OK,
        "Namespaces",
        "namespaces.html",
        context! { chrome, namespaces },
    )
}

/// A namespace: each list is shown when the caller may read it.
async fn show(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(&state, &session, Some(&here), "namespaces").await?;
    let secrets: Option<Vec<SecretKey>> = allowed(
        state
            .secrets
            .clone()
            .list_secrets(here.request(
                &session,
                pb::ListSecretsRequest {
                    namespace: namespace.clone(),
                },
            ))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .secrets
            .into_iter()
            .map(|s| SecretKey {
                namespace: s.namespace,
                key: s.key,
                updated: rfc3339(s.update_time),
            })
            .collect()
    });
    let entries: Option<Vec<KvEntry>> = allowed(
        state
            .kv
            .clone()
            .list_kv(here.request(
                &session,
                pb::ListKvRequest {
                    namespace: namespace.clone(),
                },
            ))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .entries
            .into_iter()
            .map(|e| KvEntry::from_message(e, false))
            .collect()
    });
    render(
        StatusCode::OK,
        &namespace,
        "namespace.html",
        context! { chrome, namespace => &namespace, secrets, entries },
    )
}

#[derive(Debug, serde::Deserialize)]
struct NamespacePath {
    namespace: String,
}

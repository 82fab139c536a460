//! Namespace pages: the tenant's namespaces, and one namespace's secret keys
//! (never values) and KV entries (keys, types and expiry in the list; one
//! entry's value on its own page, read through the same GetKv call as the
//! API, so the same permission decides it). Secrets and KV entries
//! are set and deleted here; a secret's value is write-only.

use aerie_proto::flow::v1 as pb;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::page::{Chrome, UiError, allowed, path_segment, render};
use super::session::Form;
use super::{Here, Session};
use crate::routes::namespaces::{KvEntry, SecretKey};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces", get(list))
        .route("/namespaces/{namespace}", get(show))
        .route("/namespaces/{namespace}/secrets", post(put_secret))
        .route(
            "/namespaces/{namespace}/secrets/{key}/delete",
            post(delete_secret),
        )
        .route("/namespaces/{namespace}/kv", post(put_kv))
        .route("/namespaces/{namespace}/kv/{key}", get(show_kv))
        .route("/namespaces/{namespace}/kv/{key}/delete", post(delete_kv))
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
    namespace_page(&state, &session, &here, namespace, StatusCode::OK, None).await
}

async fn namespace_page(
    state: &AppState,
    session: &Session,
    here: &Here,
    namespace: String,
    status: StatusCode,
    problem: Option<String>,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(state, session, Some(here), "namespaces").await?;
    let secrets: Option<Vec<SecretKey>> = allowed(
        state
            .secrets
            .clone()
            .list_secrets(here.request(
                session,
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
                session,
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
        status,
        &namespace,
        "namespace.html",
        context! { chrome, namespace => &namespace, secrets, entries, problem },
    )
}

/// Back to the namespace after `outcome`: a redirect when it worked, the
/// page with the service's refusal when it did not.
async fn after(
    state: &AppState,
    session: &Session,
    here: &Here,
    namespace: String,
    outcome: Result<(), tonic::Status>,
) -> Result<Response, UiError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!(
            "{}/namespaces/{}",
            here.base,
            path_segment(&namespace)
        ))
        .into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            namespace_page(
                state,
                session,
                here,
                namespace,
                error.status,
                Some(error.message),
            )
            .await
        }
    }
}

async fn put_secret(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
    form: Form,
) -> Result<Response, UiError> {
    let request = pb::PutSecretRequest {
        namespace: namespace.clone(),
        key: form.get("key").unwrap_or_default().trim().to_owned(),
        value: form.get("value").unwrap_or_default().to_owned(),
    };
    let outcome = state
        .secrets
        .clone()
        .put_secret(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, namespace, outcome).await
}

async fn delete_secret(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
    _: Form,
) -> Result<Response, UiError> {
    let request = pb::DeleteSecretRequest {
        namespace: namespace.clone(),
        key,
    };
    let outcome = state
        .secrets
        .clone()
        .delete_secret(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, namespace, outcome).await
}

/// One KV entry with its value, pretty-printed JSON (a string shown as its
/// text), escaped like every other value on the pages.
async fn show_kv(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(&state, &session, Some(&here), "namespaces").await?;
    let request = pb::GetKvRequest {
        namespace: namespace.clone(),
        key,
    };
    let entry = state
        .kv
        .clone()
        .get_kv(here.request(&session, request))
        .await?
        .into_inner();
    let entry = KvEntry::from_message(entry, true);
    let shown = match &entry.value {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
        None => String::new(),
    };
    let title = format!("KV {}", entry.key);
    render(
        StatusCode::OK,
        &title,
        "kv_entry.html",
        context! { chrome, namespace => &namespace, entry, shown },
    )
}

async fn put_kv(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
    form: Form,
) -> Result<Response, UiError> {
    let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let request = pb::PutKvRequest {
        namespace: namespace.clone(),
        key: field("key"),
        // Text that is not JSON is stored as a STRING, as over the API.
        value_json: form.get("value").unwrap_or_default().to_owned(),
        r#type: field("type"),
        ttl: field("ttl"),
    };
    let outcome = state
        .kv
        .clone()
        .put_kv(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, namespace, outcome).await
}

async fn delete_kv(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(EntryPath { namespace, key }): Path<EntryPath>,
    _: Form,
) -> Result<Response, UiError> {
    let request = pb::DeleteKvRequest {
        namespace: namespace.clone(),
        key,
    };
    let outcome = state
        .kv
        .clone()
        .delete_kv(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, namespace, outcome).await
}

#[derive(Debug, serde::Deserialize)]
struct EntryPath {
    namespace: String,
    key: String,
}

#[derive(Debug, serde::Deserialize)]
struct NamespacePath {
    namespace: String,
}

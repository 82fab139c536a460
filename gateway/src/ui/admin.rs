//! Administration -> Tenants (multi-tenancy only): list, create with id and
//! name, delete. Offered to super admins and to holders of TENANT:CREATE in
//! the default tenant; tenant-svc decides every call as it does for the API.
//! The form's Admin field starts with the signed-in user's name, so Create
//! -> Save leaves the creator holding the new tenant's Admin role and the
//! tenant in their dropdown on the next page, a super admin included (the
//! API binds a super admin only when asked, through `adminUsername`; the
//! field is that ask). Emptying it binds nobody but a non-super-admin
//! creator, as over the API.

use aerie_common::TenantId;
use aerie_proto::tenant::v1 as pb;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::Session;
use super::page::{Chrome, UiError, render};
use super::session::Form;
use crate::routes::tenants::Tenant;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/tenants", get(list).post(create))
        .route("/ui/tenants/{id}/delete", post(delete))
}

async fn tenants_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    (id, name, admin_username, problem): (&str, &str, Option<&str>, Option<String>),
) -> Result<Response, UiError> {
    let chrome = Chrome::load(state, session, None, "tenants").await?;
    if !chrome.admin {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "Administration needs the super admin or TENANT:CREATE",
        ));
    }
    let listing = pb::ListTenantsRequest {
        page: 1,
        size: 1000,
        sort: String::new(),
    };
    let page = state
        .tenants
        .clone()
        .list_tenants(session.caller.request(listing, None))
        .await?
        .into_inner();
    let tenants: Vec<Tenant> = page.results.into_iter().map(Into::into).collect();
    // Tenants whose pages the caller can open get a link there.
    let reachable: Vec<String> = chrome.tenants.iter().map(|t| t.value.clone()).collect();
    let admin_username = admin_username.map_or_else(|| chrome.username.clone(), str::to_owned);
    render(
        status,
        "Tenants",
        "tenants.html",
        context! { chrome, tenants, reachable, total => page.total, id, name, admin_username, problem },
    )
}

async fn list(State(state): State<AppState>, session: Session) -> Result<Response, UiError> {
    tenants_page(&state, &session, StatusCode::OK, ("", "", None, None)).await
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    form: Form,
) -> Result<Response, UiError> {
    let id = form.get("id").unwrap_or_default().trim().to_owned();
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let admin_username = form
        .get("adminUsername")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let request = pb::CreateTenantRequest {
        id: id.clone(),
        name: name.clone(),
        admin_username: admin_username.clone(),
        validate_only: false,
    };
    match state
        .tenants
        .clone()
        .create_tenant(session.caller.request(request, None))
        .await
    {
        Ok(_) => Ok(Redirect::to("/ui/tenants").into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            tenants_page(
                &state,
                &session,
                error.status,
                (&id, &name, Some(&admin_username), Some(error.message)),
            )
            .await
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: Form,
) -> Result<Response, UiError> {
    // Administration's own gate, as for the list and create: a tenant's
    // Admin deletes their tenant through the API, not through these pages.
    if !Chrome::load(&state, &session, None, "tenants").await?.admin {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "Administration needs the super admin or TENANT:CREATE",
        ));
    }
    state
        .tenants
        .clone()
        .delete_tenant(
            session
                .caller
                .request(pb::DeleteTenantRequest { id: id.clone() }, None),
        )
        .await?;
    if let Ok(tenant) = TenantId::parse(&id) {
        state.directory.forget(&tenant);
    }
    Ok(Redirect::to("/ui/tenants").into_response())
}

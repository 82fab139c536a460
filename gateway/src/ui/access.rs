//! A tenant's access: its roles, bindings, groups and service accounts,
//! each list shown when the caller may read it; bindings are created and
//! deleted here (auth-svc decides, as for the API, including that nothing
//! a tenant Admin does reaches a super admin).

use aerie_proto::auth::v1 as pb;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::page::{Chrome, UiError, allowed, render};
use super::session::Form;
use super::{Here, Session};
use crate::routes::tenants::rfc3339;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/access", get(show))
        .route("/access/bindings", post(bind))
        .route("/access/bindings/{id}/delete", post(unbind))
}

#[derive(Debug, Serialize)]
struct Role {
    name: String,
    permissions: String,
    predefined: bool,
}

#[derive(Debug, Serialize)]
struct Binding {
    id: String,
    kind: String,
    subject: String,
    role: String,
    namespace: String,
}

#[derive(Debug, Serialize)]
struct Group {
    name: String,
    members: String,
}

#[derive(Debug, Serialize)]
struct Account {
    name: String,
    created: Option<String>,
}

/// What the binding form had, to show again with the problem.
#[derive(Debug, Default, Serialize)]
struct BindingForm {
    kind: String,
    subject: String,
    role: String,
    namespace: String,
    problem: Option<String>,
}

async fn access_page(
    state: &AppState,
    session: &Session,
    here: &Here,
    status: StatusCode,
    form: BindingForm,
) -> Result<Response, UiError> {
    let chrome = Chrome::load(state, session, Some(here), "access").await?;
    let rbac = || state.rbac.clone();
    let roles: Option<Vec<Role>> = allowed(
        rbac()
            .list_roles(here.request(session, pb::ListRolesRequest {}))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .results
            .into_iter()
            .map(|r| Role {
                name: r.name,
                permissions: r.permissions.join(", "),
                predefined: r.predefined,
            })
            .collect()
    });
    let bindings: Option<Vec<Binding>> = allowed(
        rbac()
            .list_bindings(here.request(session, pb::ListBindingsRequest {}))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .results
            .into_iter()
            .map(|b| Binding {
                id: b.id,
                kind: b.r#type,
                subject: b.subject,
                role: b.role,
                namespace: b.namespace,
            })
            .collect()
    });
    let groups: Option<Vec<Group>> = allowed(
        rbac()
            .list_groups(here.request(session, pb::ListGroupsRequest {}))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .results
            .into_iter()
            .map(|g| Group {
                name: g.name,
                members: g.members.join(", "),
            })
            .collect()
    });
    let accounts: Option<Vec<Account>> = allowed(
        rbac()
            .list_service_accounts(here.request(session, pb::ListServiceAccountsRequest {}))
            .await,
    )?
    .map(|list| {
        list.into_inner()
            .results
            .into_iter()
            .map(|a| Account {
                name: a.name,
                created: rfc3339(a.create_time),
            })
            .collect()
    });
    render(
        status,
        "Access",
        "access.html",
        context! { chrome, roles, bindings, groups, accounts, form },
    )
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    here: Here,
) -> Result<Response, UiError> {
    access_page(
        &state,
        &session,
        &here,
        StatusCode::OK,
        BindingForm::default(),
    )
    .await
}

async fn bind(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    form: Form,
) -> Result<Response, UiError> {
    let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let request = pb::CreateBindingRequest {
        r#type: field("type"),
        subject: field("subject"),
        role: field("role"),
        namespace: field("namespace"),
    };
    let shown = BindingForm {
        kind: request.r#type.clone(),
        subject: request.subject.clone(),
        role: request.role.clone(),
        namespace: request.namespace.clone(),
        problem: None,
    };
    match state
        .rbac
        .clone()
        .create_binding(here.request(&session, request))
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{}/access", here.base)).into_response()),
        Err(status) => {
            let error = UiError::from(status);
            if error.status.is_server_error() || error.status == StatusCode::UNAUTHORIZED {
                return Err(error);
            }
            let status = error.status;
            let form = BindingForm {
                problem: Some(error.message),
                ..shown
            };
            access_page(&state, &session, &here, status, form).await
        }
    }
}

async fn unbind(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(BindingPath { id }): Path<BindingPath>,
    _: Form,
) -> Result<Response, UiError> {
    state
        .rbac
        .clone()
        .delete_binding(here.request(&session, pb::DeleteBindingRequest { id }))
        .await?;
    Ok(Redirect::to(&format!("{}/access", here.base)).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct BindingPath {
    id: String,
}

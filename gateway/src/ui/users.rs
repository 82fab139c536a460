//! Administration -> Users: the instance's users, creating and deleting
//! them (user management belongs to the super admin; auth-svc decides, as
//! for the API).

use aerie_proto::auth::v1 as pb;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

use super::Session;
use super::page::{Chrome, UiError, render};
use super::session::Form;
use crate::routes::tenants::rfc3339;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/users", get(list).post(create))
        .route("/ui/users/{id}/delete", axum::routing::post(delete))
}

#[derive(Debug, Serialize)]
struct User {
    id: String,
    username: String,
    super_admin: bool,
    created: Option<String>,
}

async fn users_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    (username, problem): (&str, Option<String>),
) -> Result<Response, UiError> {
    let chrome = Chrome::load(state, session, None, "users").await?;
    let listed = state
        .users
        .clone()
        .list_users(session.caller.request(
            pb::ListUsersRequest {
                page: 1,
                size: 1000,
            },
            None,
        ))
        .await?
        .into_inner();
    let users: Vec<User> = listed
        .results
        .into_iter()
        .map(|u| User {
            id: u.id,
            username: u.username,
            super_admin: u.super_admin,
            created: rfc3339(u.create_time),
        })
        .collect();
    render(
        status,
        "Users",
        "users.html",
        context! { chrome, users, total => listed.total, username, problem },
    )
}

async fn list(State(state): State<AppState>, session: Session) -> Result<Response, UiError> {
    users_page(&state, &session, StatusCode::OK, ("", None)).await
}

async fn delete(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Path(id): axum::extract::Path<String>,
    _: Form,
) -> Result<Response, UiError> {
    let outcome = state
        .users
        .clone()
        .delete_user(session.caller.request(pb::DeleteUserRequest { id }, None))
        .await;
    match outcome {
        Ok(_) => Ok(Redirect::to("/ui/users").into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            users_page(&state, &session, error.status, ("", Some(error.message))).await
        }
    }
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    form: Form,
) -> Result<Response, UiError> {
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let request = pb::CreateUserRequest {
        username: username.clone(),
        password: form.get("password").unwrap_or_default().to_owned(),
        super_admin: false,
    };
    match state
        .users
        .clone()
        .create_user(session.caller.request(request, None))
        .await
    {
        Ok(_) => Ok(Redirect::to("/ui/users").into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            users_page(
                &state,
                &session,
                error.status,
                (&username, Some(error.message)),
            )
            .await
        }
    }
}

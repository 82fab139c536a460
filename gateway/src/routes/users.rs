//! `/api/v1/users`: instance-level user management (super admins),
//! forwarded to auth-svc.

use aerie_proto::auth::v1 as pb;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::authn::Authenticated;
use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::routes::kestra_fields::refuse_unless_empty;
use crate::routes::tenants::rfc3339;
use crate::state::AppState;

pub mod access;

/// A user (never its password).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub super_admin: bool,
    pub create_time: Option<String>,
}

impl From<pb::User> for User {
    fn from(user: pb::User) -> Self {
        User {
            id: user.id,
            username: user.username,
            super_admin: user.super_admin,
            create_time: rfc3339(user.create_time),
        }
    }
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    /// 8 to 256 characters.
    pub password: String,
    #[serde(default)]
    pub super_admin: bool,
    /// Accepted for Kestra's clients: only `false`.
    pub deleted: Option<bool>,
    /// Kestra's profile fields: Aerie keeps none, so only empty values
    /// are accepted (`description`, `firstName`, `lastName`, `email`), and
    /// `groups`, which Aerie sets per tenant through group members.
    pub description: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub groups: Option<Vec<String>>,
}

/// Body of `PUT /api/v1/users/{id}`: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    pub password: Option<String>,
    pub super_admin: Option<bool>,
    /// As GET answers them, so that a client may send a user back: must be
    /// the user's own (usernames never change); `createTime` changes nothing.
    pub id: Option<String>,
    pub username: Option<String>,
    pub create_time: Option<String>,
    /// Kestra's profile fields: Aerie keeps none, so only empty values
    /// are accepted (`description`, `firstName`, `lastName`, `email`), and
    /// `groups`, which Aerie sets per tenant through group members.
    pub description: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub groups: Option<Vec<String>>,
}

/// Refuses Kestra's profile fields unless empty (see `kestra_fields`).
fn refuse_profile(
    (description, first_name, last_name): (&Option<String>, &Option<String>, &Option<String>),
    email: &Option<String>,
    groups: &Option<Vec<String>>,
) -> Result<(), ApiError> {
    const PROFILE: &str = "a user is a username, a password and a super-admin flag";
    refuse_unless_empty(&[
        ("description", description, PROFILE),
        ("firstName", first_name, PROFILE),
        ("lastName", last_name, PROFILE),
        ("email", email, PROFILE),
        (
            "groups",
            groups,
            "groups belong to tenants; add a member with POST /api/v1/{tenant}/groups/{group}/members",
        ),
    ])
}

/// Paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub page: Option<u32>,
    pub size: Option<u32>,
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub results: Vec<User>,
    pub total: u64,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .merge(access::routes())
}

/// Create a user (super admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    refuse_profile(
        (&body.description, &body.first_name, &body.last_name),
        &body.email,
        &body.groups,
    )?;
    refuse_unless_empty(&[(
        "deleted",
        &body.deleted,
        "only `false`: a user is deleted with DELETE /api/v1/users/{id}",
    )])?;
    let request = pb::CreateUserRequest {
        username: body.username,
        password: body.password,
        super_admin: body.super_admin,
    };
    let user = state
        .users
        .clone()
        .create_user(caller.request(request, None))
        .await?;
    Ok((StatusCode::CREATED, Json(user.into_inner().into())))
}

/// List users (super admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = UserPage), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<UserQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let request = pb::ListUsersRequest {
        page: query.page.unwrap_or(0),
        size: query.size.unwrap_or(0),
    };
    let page = state
        .users
        .clone()
        .list_users(caller.request(request, None))
        .await?
        .into_inner();
    Ok(Json(UserPage {
        results: page.results.into_iter().map(Into::into).collect(),
        total: page.total,
    }))
}

/// Read a user by id or username (super admin).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = state
        .users
        .clone()
        .get_user(caller.request(pb::GetUserRequest { id }, None))
        .await?;
    Ok(Json(user.into_inner().into()))
}

/// Change a user's password or super-admin flag (super admin).
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    request_body = UpdateUser, responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateUser>,
) -> Result<Json<User>, ApiError> {
    refuse_profile(
        (&body.description, &body.first_name, &body.last_name),
        &body.email,
        &body.groups,
    )?;
    if body.id.is_some() || body.username.is_some() {
        let user = state
            .users
            .clone()
            .get_user(caller.request(pb::GetUserRequest { id: id.clone() }, None))
            .await?
            .into_inner();
        if body.id.as_ref().is_some_and(|sent| *sent != user.id) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the id in the body is not this user's; user ids cannot change",
            ));
        }
        if body
            .username
            .as_ref()
            .is_some_and(|sent| *sent != user.username)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`username` differs from this user's: Aerie cannot rename a user",
            ));
        }
    }
    let request = pb::UpdateUserRequest {
        id,
        password: body.password.unwrap_or_default(),
        super_admin: body.super_admin,
    };
    let user = state
        .users
        .clone()
        .update_user(caller.request(request, None))
        .await?;
    Ok(Json(user.into_inner().into()))
}

/// Delete a user and its bindings (super admin). Its tokens stop working.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .users
        .clone()
        .delete_user(caller.request(pb::DeleteUserRequest { id }, None))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

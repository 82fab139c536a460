//! A tenant's access: its users (who holds which role, directly or through
//! a group), roles, bindings, groups and service accounts,
//! each list shown when the caller may read it, each created and removed
//! here; a service account's new token is shown on the answer page once.
//! auth-svc decides every call, as for the API, including that nothing a
//! tenant Admin does reaches a super admin.

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
        .route("/access/roles", post(create_role))
        .route("/access/roles/{name}/delete", post(delete_role))
        .route("/access/groups", post(create_group))
        .route("/access/groups/{name}/delete", post(delete_group))
        .route("/access/groups/{name}/members", post(add_member))
        .route(
            "/access/groups/{name}/members/{username}/remove",
            post(remove_member),
        )
        .route("/access/service-accounts", post(create_account))
        .route(
            "/access/service-accounts/{name}/delete",
            post(delete_account),
        )
        .route("/access/service-accounts/{name}/tokens", post(create_token))
}

/// The permissions a role can hold, as the role form offers them.
fn grid() -> Vec<(&'static str, Vec<String>)> {
    use aerie_common::auth::{Action, Permission};
    Permission::ALL
        .iter()
        .map(|p| {
            let grants = Action::ALL
                .iter()
                .map(|a| format!("{}:{}", p.as_str(), a.as_str()))
                .collect();
            (p.as_str(), grants)
        })
        .collect()
}

/// What the page says after an action: a problem, or a token shown once.
#[derive(Debug, Default, Serialize)]
struct Notice {
    problem: Option<String>,
    /// A new service-account token: (account, value).
    token: Option<(String, String)>,
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
    members: Vec<String>,
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
    (form, notice): (BindingForm, Notice),
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
                permissions: crate::routes::rbac::grant_texts(&r.grants).join(", "),
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
                kind: crate::routes::rbac::binding_type_name(b.r#type),
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
                members: g.members,
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
    let users = match (&bindings, &groups) {
        (Some(bindings), Some(groups)) => Some(users_of(bindings, groups)),
        _ => None,
    };
    render(
        status,
        "Access",
        "access.html",
        context! { chrome, users, roles, bindings, groups, accounts, form, notice, grid => grid() },
    )
}

/// One user who holds access in the tenant, and how.
#[derive(Debug, PartialEq, Serialize)]
struct UserAccess {
    username: String,
    /// Roles bound to the user itself: `Admin`, `Viewer on ns.a`.
    roles: Vec<String>,
    /// Roles reached through a group: `Developer (group devs)`.
    through_groups: Vec<String>,
}

/// The tenant's users as Kestra's Users tab shows them: everyone bound
/// directly or through a group, with what each binding gives. Derived from
/// the bindings and groups the caller may already read, so it shows
/// nothing those lists do not.
fn users_of(bindings: &[Binding], groups: &[Group]) -> Vec<UserAccess> {
    use std::collections::BTreeMap;
    let role_text = |b: &Binding| match b.namespace.as_str() {
        "" => b.role.clone(),
        namespace => format!("{} on {namespace}", b.role),
    };
    let mut users: BTreeMap<&str, UserAccess> = BTreeMap::new();
    for binding in bindings {
        match binding.kind.as_str() {
            "USER" => users
                .entry(binding.subject.as_str())
                .or_insert_with(|| UserAccess::named(&binding.subject))
                .roles
                .push(role_text(binding)),
            "GROUP" => {
                let Some(group) = groups.iter().find(|g| g.name == binding.subject) else {
                    continue;
                };
                for member in &group.members {
                    users
                        .entry(member.as_str())
                        .or_insert_with(|| UserAccess::named(member))
                        .through_groups
                        .push(format!("{} (group {})", role_text(binding), group.name));
                }
            }
            _ => {}
        }
    }
    users.into_values().collect()
}

impl UserAccess {
    fn named(username: &str) -> UserAccess {
        UserAccess {
            username: username.to_owned(),
            roles: Vec::new(),
            through_groups: Vec::new(),
        }
    }
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
        (BindingForm::default(), Notice::default()),
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
    let shown = BindingForm {
        kind: field("type"),
        subject: field("subject"),
        role: field("role"),
        namespace: field("namespace"),
        problem: None,
    };
    let created = match crate::routes::rbac::binding_type_of(&shown.kind) {
        Ok(kind) => {
            let request = pb::CreateBindingRequest {
                r#type: kind,
                subject: shown.subject.clone(),
                role: shown.role.clone(),
                namespace: shown.namespace.clone(),
            };
            state
                .rbac
                .clone()
                .create_binding(here.request(&session, request))
                .await
        }
        Err(refused) => Err(refused),
    };
    match created {
        Ok(_) => Ok(Redirect::to(&format!("{}/access", here.base)).into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            let status = error.status;
            let form = BindingForm {
                problem: Some(error.message),
                ..shown
            };
            access_page(&state, &session, &here, status, (form, Notice::default())).await
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

#[derive(Debug, serde::Deserialize)]
struct NamePath {
    name: String,
}

#[derive(Debug, serde::Deserialize)]
struct MemberPath {
    name: String,
    username: String,
}

/// Back to the access page after `outcome`: a redirect when it worked, the
/// page with the service's refusal when it did not.
async fn after(
    state: &AppState,
    session: &Session,
    here: &Here,
    outcome: Result<(), tonic::Status>,
) -> Result<Response, UiError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("{}/access", here.base)).into_response()),
        Err(status) => {
            let error = UiError::shown_on_page(status)?;
            let notice = Notice {
                problem: Some(error.message),
                token: None,
            };
            access_page(
                state,
                session,
                here,
                error.status,
                (BindingForm::default(), notice),
            )
            .await
        }
    }
}

async fn create_role(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    form: Form,
) -> Result<Response, UiError> {
    let outcome = match crate::routes::rbac::wire_grants(&form.all("permission")) {
        Ok(grants) => {
            let request = pb::CreateRoleRequest {
                name: form.get("name").unwrap_or_default().trim().to_owned(),
                grants,
            };
            state
                .rbac
                .clone()
                .create_role(here.request(&session, request))
                .await
                .map(drop)
        }
        Err(refused) => Err(refused),
    };
    after(&state, &session, &here, outcome).await
}

async fn delete_role(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamePath { name }): Path<NamePath>,
    _: Form,
) -> Result<Response, UiError> {
    let outcome = state
        .rbac
        .clone()
        .delete_role(here.request(&session, pb::DeleteRoleRequest { name }))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn create_group(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    form: Form,
) -> Result<Response, UiError> {
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let outcome = state
        .rbac
        .clone()
        .create_group(here.request(&session, pb::CreateGroupRequest { name }))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn delete_group(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamePath { name }): Path<NamePath>,
    _: Form,
) -> Result<Response, UiError> {
    let outcome = state
        .rbac
        .clone()
        .delete_group(here.request(&session, pb::DeleteGroupRequest { name }))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn add_member(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamePath { name }): Path<NamePath>,
    form: Form,
) -> Result<Response, UiError> {
    let request = pb::AddGroupMemberRequest {
        group: name,
        username: form.get("username").unwrap_or_default().trim().to_owned(),
    };
    let outcome = state
        .rbac
        .clone()
        .add_group_member(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn remove_member(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(MemberPath { name, username }): Path<MemberPath>,
    _: Form,
) -> Result<Response, UiError> {
    let request = pb::RemoveGroupMemberRequest {
        group: name,
        username,
    };
    let outcome = state
        .rbac
        .clone()
        .remove_group_member(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn create_account(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    form: Form,
) -> Result<Response, UiError> {
    let request = pb::CreateServiceAccountRequest {
        name: form.get("name").unwrap_or_default().trim().to_owned(),
        super_admin: false,
    };
    let outcome = state
        .rbac
        .clone()
        .create_service_account(here.request(&session, request))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

async fn delete_account(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamePath { name }): Path<NamePath>,
    _: Form,
) -> Result<Response, UiError> {
    let outcome = state
        .rbac
        .clone()
        .delete_service_account(here.request(&session, pb::DeleteServiceAccountRequest { name }))
        .await
        .map(drop);
    after(&state, &session, &here, outcome).await
}

/// A new API token of a service account: the answer page shows its value
/// this once (the page is never cached); only its prefix is listed later.
async fn create_token(
    State(state): State<AppState>,
    session: Session,
    here: Here,
    Path(NamePath { name }): Path<NamePath>,
    form: Form,
) -> Result<Response, UiError> {
    let days: u64 = match form.get("days").map(str::trim).filter(|d| !d.is_empty()) {
        None => 0,
        Some(text) => text.parse().map_err(|_| {
            UiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "days is a whole number (empty: never expires)",
            )
        })?,
    };
    let request = pb::CreateApiTokenRequest {
        service_account: name.clone(),
        name: form.get("token_name").unwrap_or_default().trim().to_owned(),
        expires_in: days.saturating_mul(86_400),
    };
    match state
        .rbac
        .clone()
        .create_api_token(here.request(&session, request))
        .await
    {
        Ok(created) => {
            let notice = Notice {
                problem: None,
                token: Some((name, created.into_inner().value)),
            };
            access_page(
                &state,
                &session,
                &here,
                StatusCode::OK,
                (BindingForm::default(), notice),
            )
            .await
        }
        Err(status) => after(&state, &session, &here, Err(status)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(kind: &str, subject: &str, role: &str, namespace: &str) -> Binding {
        Binding {
            id: format!("{kind}-{subject}-{role}"),
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            role: role.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    #[test]
    fn users_are_listed_with_their_own_roles_and_those_of_their_groups() {
        let bindings = [
            binding("USER", "bob", "Admin", ""),
            binding("USER", "ann", "Viewer", "team.a"),
            binding("GROUP", "devs", "Developer", ""),
            binding("SERVICE_ACCOUNT", "ci", "Admin", ""),
            binding("GROUP", "gone", "Admin", ""),
        ];
        let groups = [Group {
            name: "devs".to_owned(),
            members: vec!["ann".to_owned(), "cy".to_owned()],
        }];
        let users = users_of(&bindings, &groups);
        assert_eq!(
            users,
            vec![
                UserAccess {
                    username: "ann".to_owned(),
                    roles: vec!["Viewer on team.a".to_owned()],
                    through_groups: vec!["Developer (group devs)".to_owned()],
                },
                UserAccess {
                    username: "bob".to_owned(),
                    roles: vec!["Admin".to_owned()],
                    through_groups: vec![],
                },
                UserAccess {
                    username: "cy".to_owned(),
                    roles: vec![],
                    through_groups: vec!["Developer (group devs)".to_owned()],
                },
            ],
            "service accounts are not users, and a group without members gives nobody access"
        );
    }
}

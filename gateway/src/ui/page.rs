//! Rendering: one template environment built once from the templates
//! embedded in the binary, the header every page shares ([`Chrome`]), and
//! the one HTML error page every failure of the UI becomes.

use std::collections::HashMap;
use std::sync::LazyLock;

use aerie_common::TenantId;
use aerie_proto::auth::v1 as auth_pb;
use aerie_proto::tenant::v1 as tenant_pb;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::Environment;
use serde::Serialize;
use tonic::Status;

use super::{Here, Session};
use crate::state::AppState;

/// The dropdown's value for the default tenant: a reserved word, so no
/// named tenant can have it.
pub const DEFAULT_TENANT_OPTION: &str = "default";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("error.html", include_str!("templates/error.html")),
    ("home.html", include_str!("templates/home.html")),
    ("login.html", include_str!("templates/login.html")),
    ("flows.html", include_str!("templates/flows.html")),
    ("flow.html", include_str!("templates/flow.html")),
    ("flow_new.html", include_str!("templates/flow_new.html")),
    ("flow_diff.html", include_str!("templates/flow_diff.html")),
    ("problems.html", include_str!("templates/problems.html")),
    ("pager.html", include_str!("templates/pager.html")),
    ("namespaces.html", include_str!("templates/namespaces.html")),
    ("namespace.html", include_str!("templates/namespace.html")),
    ("kv_entry.html", include_str!("templates/kv_entry.html")),
    ("triggers.html", include_str!("templates/triggers.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("access.html", include_str!("templates/access.html")),
    ("users.html", include_str!("templates/users.html")),
    ("executions.html", include_str!("templates/executions.html")),
    ("execution.html", include_str!("templates/execution.html")),
    (
        "execution_live.html",
        include_str!("templates/execution_live.html"),
    ),
    ("tenants.html", include_str!("templates/tenants.html")),
];

/// Every template ends in `.html`, so minijinja escapes every value.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_filter("segment", path_segment);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // Caught by the unit test below before any build ships.
            tracing::error!(template = name, error = %e, "UI template does not compile");
        }
    }
    env
});

/// `text` as one URL path segment: unreserved characters kept, every
/// other byte percent-encoded (so an id can never add a segment).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `template` rendered with `context` into a string (a part of a page).
pub fn fragment(template: &str, context: &minijinja::Value) -> Result<String, UiError> {
    ENVIRONMENT
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|e| UiError::internal(format!("page {template} failed to render: {e}")))
}

/// A whole page: `template` rendered with `context`, inside the frame of
/// `base.html` (its header comes from the context's `chrome`, if any).
pub fn render(
    status: StatusCode,
    title: &str,
    template: &str,
    context: minijinja::Value,
) -> Result<Response, UiError> {
    let main = fragment(template, &context)?;
    let chrome = context.get_attr("chrome").unwrap_or_default();
    let frame = minijinja::context! {
        title,
        chrome,
        main => minijinja::Value::from_safe_string(main),
    };
    let html = fragment("base.html", &frame)?;
    Ok((status, Html(html)).into_response())
}

/// A part of a page alone (refreshed by the page's script).
pub fn render_fragment(template: &str, context: minijinja::Value) -> Result<Response, UiError> {
    Ok(Html(fragment(template, &context)?).into_response())
}

/// A failure shown as a page: its status and what to tell the user.
/// Unauthenticated (an expired session) goes back to the sign-in page.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError {
            status,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> UiError {
        let message = message.into();
        tracing::error!(%message, "UI failure");
        UiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A refusal of a service, shown on the page next to the form that
    /// caused it (a client error), or the error that replaces the page: a
    /// server fault, or an expired session (back to the sign-in page).
    pub fn shown_on_page(status: Status) -> Result<UiError, UiError> {
        let error = UiError::from(status);
        if error.status.is_server_error() || error.status == StatusCode::UNAUTHORIZED {
            return Err(error);
        }
        Ok(error)
    }

    /// The one answer for a tenant that is unknown, deleted, malformed or
    /// not the caller's: the same words as the API's.
    pub fn tenant_not_found(segment: &str) -> UiError {
        let shown: String = segment.chars().take(100).collect();
        UiError::new(StatusCode::NOT_FOUND, format!("tenant '{shown}' not found"))
    }
}

impl From<Status> for UiError {
    fn from(status: Status) -> Self {
        let (code, message) = aerie_common::error::http_error(&status);
        UiError::new(code, message)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/ui/auths/login").into_response();
        }
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_client_error() => "Cannot do that",
            _ => "Something went wrong",
        };
        let context = context! {
            title,
            status => self.status.as_u16(),
            message => self.message,
        };
        match render(self.status, title, "error.html", context) {
            Ok(mut response) => {
                if self.status == StatusCode::SERVICE_UNAVAILABLE {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                response
            }
            Err(_) => (self.status, "error").into_response(),
        }
    }
}

/// A list the caller may not read is `None` (the page says so); any other
/// failure fails the page.
pub fn allowed<T>(result: Result<T, Status>) -> Result<Option<T>, UiError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(status) if status.code() == tonic::Code::PermissionDenied => Ok(None),
        Err(status) => Err(status.into()),
    }
}

/// Previous and next links of a list, keeping its filters.
#[derive(Debug, Serialize)]
pub struct Pager {
    pub page: u32,
    pub pages: u64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` (from 1) of `total` items, `size` a page, at `path`
    /// with the non-empty `filters`.
    pub fn new(path: &str, filters: &[(&str, &str)], page: u32, size: u32, total: u64) -> Pager {
        let pages = total.div_ceil(u64::from(size.max(1))).max(1);
        let link = |to: u32| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (key, value) in filters.iter().filter(|(_, v)| !v.is_empty()) {
                query.append_pair(key, value);
            }
            query.append_pair("page", &to.to_string());
            format!("{path}?{}", query.finish())
        };
        Pager {
            page,
            pages,
            previous: (page > 1).then(|| link(page - 1)),
            next: (u64::from(page) < pages).then(|| link(page + 1)),
        }
    }

    /// The page asked for: `page=N` from 1, anything else is 1.
    pub fn requested(value: &str) -> u32 {
        value.parse::<u32>().ok().filter(|p| *p >= 1).unwrap_or(1)
    }

    /// The links as a part of a page.
    pub fn html(&self) -> Result<minijinja::Value, UiError> {
        let html = fragment("pager.html", &context! { pager => self })?;
        Ok(minijinja::Value::from_safe_string(html))
    }
}

/// One entry of the tenant dropdown.
#[derive(Debug, Clone, Serialize)]
pub struct TenantOption {
    /// The id, or [`DEFAULT_TENANT_OPTION`].
    pub value: String,
    pub label: String,
    /// The prefix of its pages.
    pub base: String,
    pub selected: bool,
}

/// What the header of every page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Chrome {
    pub username: String,
    pub csrf: String,
    /// Exactly the tenants the caller can use.
    pub tenants: Vec<TenantOption>,
    /// The prefix of the current tenant's pages, if a tenant is shown.
    pub base: Option<String>,
    /// The kind of page (`flows`, `executions`, `tenants`, ...).
    pub section: &'static str,
    /// Whether Administration is offered (super admin or TENANT:CREATE).
    pub admin: bool,
    /// Whether the caller is the super admin (Administration -> Users).
    pub super_admin: bool,
    pub multi_tenancy: bool,
}

impl Chrome {
    /// The header for `session`, with `here` selected in the dropdown.
    pub async fn load(
        state: &AppState,
        session: &Session,
        here: Option<&Here>,
        section: &'static str,
    ) -> Result<Chrome, UiError> {
        let caller = &session.caller;
        let policy = state.directory.policy();
        let me = state
            .auth
            .clone()
            .get_me(caller.request(auth_pb::GetMeRequest {}, None))
            .await?
            .into_inner();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut admin = me.super_admin;
        if policy.multi_tenancy {
            let listing = tenant_pb::ListTenantsRequest {
                page: 1,
                size: 1000,
                sort: String::new(),
            };
            let listed = state
                .tenants
                .clone()
                .list_tenants(caller.request(listing, None))
                .await?
                .into_inner();
            names = listed.results.into_iter().map(|t| (t.id, t.name)).collect();
            if !admin {
                let question = aerie_proto::auth::internal::v1::CheckAccessRequest {
                    permission: auth_pb::Permission::Tenant as i32,
                    action: auth_pb::Action::Create as i32,
                    namespace: String::new(),
                };
                admin = state
                    .access
                    .clone()
                    .check_access(caller.request(question, None))
                    .await
                    .map(|answer| answer.into_inner().allowed)
                    .unwrap_or(false);
            }
        }
        let current = here.map(|h| &h.tenant);
        let mut tenants = Vec::new();
        for tenant in me.tenants {
            let id = if tenant.id.is_empty() {
                TenantId::default_tenant()
            } else if let (true, Ok(id)) = (policy.multi_tenancy, TenantId::parse(&tenant.id)) {
                // Listed by tenant-svc: live and visible to the caller.
                if !names.contains_key(&tenant.id) {
                    continue;
                }
                id
            } else {
                continue;
            };
            if policy.admit(&id).is_err() {
                continue;
            }
            let (value, label) = match id.as_named() {
                Some(named) => {
                    let name = names.get(named).filter(|n| !n.is_empty());
                    let label = match name {
                        Some(name) if name != named => format!("{name} ({named})"),
                        _ => named.to_owned(),
                    };
                    (named.to_owned(), label)
                }
                None => (DEFAULT_TENANT_OPTION.to_owned(), "default".to_owned()),
            };
            tenants.push(TenantOption {
                selected: current == Some(&id),
                base: Here::of(id).base,
                value,
                label,
            });
        }
        tenants.sort_by(|a, b| a.value.cmp(&b.value));
        Ok(Chrome {
            username: caller.name.to_string(),
            csrf: session.csrf.clone(),
            tenants,
            base: here.map(|h| h.base.clone()),
            section,
            admin,
            super_admin: me.super_admin,
            multi_tenancy: policy.multi_tenancy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(ENVIRONMENT.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn pages_link_to_their_neighbours_with_the_filters_kept() {
        let first = Pager::new(
            "/ui/a/flows",
            &[("q", "x y"), ("namespace", "")],
            1,
            100,
            250,
        );
        assert_eq!(first.pages, 3);
        assert_eq!(first.previous, None);
        assert_eq!(first.next.as_deref(), Some("/ui/a/flows?q=x+y&page=2"));
        let last = Pager::new("/ui/a/flows", &[], 3, 100, 250);
        assert_eq!(last.previous.as_deref(), Some("/ui/a/flows?page=2"));
        assert_eq!(last.next, None);
        assert_eq!(Pager::new("/p", &[], 1, 100, 0).pages, 1);
        assert_eq!(Pager::requested("0"), 1);
        assert_eq!(Pager::requested("x"), 1);
        assert_eq!(Pager::requested("7"), 7);
    }

    #[test]
    fn ids_in_links_stay_one_path_segment() {
        assert_eq!(path_segment("company.team"), "company.team");
        assert_eq!(path_segment("a/../b c"), "a%2F..%2Fb%20c");
    }

    #[test]
    fn values_a_tenant_controls_are_escaped() {
        let body = ENVIRONMENT
            .get_template("error.html")
            .and_then(|t| {
                t.render(context! {
                    title => "t",
                    status => 404,
                    message => "<script>alert(1)</script>",
                })
            })
            .expect("renders");
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{body}"
        );
    }
}

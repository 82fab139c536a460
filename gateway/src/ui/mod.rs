//! The web UI under `/ui/`: pages rendered on the server (minijinja; every
//! template is `.html`, so every value is escaped), a session cookie that
//! holds the caller's token, a CSRF token in every form, and the tenant taken
//! from the URL exactly as the API takes it:
//!
//! | enabled | default-tenant | `/ui/{tenant}/...` | `/ui/...` |
//! |---|---|---|---|
//! | false | any | absent | default tenant |
//! | true | true | named tenant | default tenant |
//! | true | false | named tenant | "not found" page |
//!
//! Pages call the services with the signed-in caller's credential, so the
//! services decide every permission, as they do for the API.

/// `minijinja::context!` for serializable values: each value goes in
/// through serde, so the API's own response types render as they serialize.
macro_rules! context {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {
        minijinja::context! {
            $($key => minijinja::value::Serde(context!(@value $key $(=> $value)?))),*
        }
    };
    (@value $key:ident) => { $key };
    (@value $key:ident => $value:expr) => { $value };
}

mod access;
mod admin;
mod assets;
mod audit;
mod diff;
mod executions;
mod flows;
mod namespaces;
mod page;
mod session;
mod triggers;
mod users;

use std::collections::HashMap;

use aerie_common::TenantId;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::state::AppState;
pub use page::UiError;
pub use session::Session;

/// Whether `path` belongs to the UI, which authenticates by its own cookie.
pub fn is_ui_path(path: &str) -> bool {
    path == "/ui"
        || path.starts_with("/ui/")
        || path.starts_with(assets::PREFIX)
        || path == assets::FAVICON
}

/// The page kinds a tenant switch keeps.
const SECTIONS: &[&str] = &[
    "flows",
    "executions",
    "namespaces",
    "triggers",
    "auditlogs",
    "access",
];

/// The whole UI.
pub fn routes(state: &AppState) -> Router<AppState> {
    let policy = state.directory.policy();
    let scoped = flows::routes()
        .merge(executions::routes())
        .merge(namespaces::routes())
        .merge(triggers::routes())
        .merge(audit::routes())
        .merge(access::routes());
    let signed_in = Router::new()
        .merge(users::routes())
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/me/tenant", get(switch_tenant))
        .route("/ui/auths/logout", axum::routing::post(session::sign_out))
        .nest(
            "/ui",
            scoped.clone().route_layer(middleware::from_fn_with_state(
                state.clone(),
                default_tenant,
            )),
        );
    let signed_in = if policy.multi_tenancy {
        signed_in
            .merge(admin::routes())
            .route("/ui/{tenant}", get(tenant_home))
            .nest(
                "/ui/{tenant}",
                scoped.route_layer(middleware::from_fn_with_state(state.clone(), named_tenant)),
            )
    } else {
        signed_in
    };
    Router::new()
        .merge(signed_in.route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        )))
        .merge(session::routes())
        .merge(assets::routes())
        .layer(middleware::map_response(html_errors))
        .layer(middleware::map_response(security_headers))
}

/// axum's own refusals inside the UI (a method a page does not take, a
/// path parameter that is not UTF-8) become the HTML error page too,
/// instead of the API's plain text or JSON.
async fn html_errors(response: Response) -> Response {
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let message = match status {
        axum::http::StatusCode::METHOD_NOT_ALLOWED => {
            "this page does not take that method".to_owned()
        }
        _ => {
            use http_body_util::BodyExt;
            http_body_util::Limited::new(response.into_body(), 4096)
                .collect()
                .await
                .ok()
                .and_then(|body| String::from_utf8(body.to_bytes().to_vec()).ok())
                .map(|text| text.trim().chars().take(300).collect::<String>())
                .filter(|text| !text.is_empty())
                .unwrap_or_else(|| "bad request".to_owned())
        }
    };
    UiError::new(status, message).into_response()
}

/// Headers on every UI answer: no inline script, no framing, no sniffing,
/// and no caching of pages that show a tenant's data.
async fn security_headers(response: Response) -> Response {
    secured(response)
}

/// `response` with the UI's security headers (also for UI paths that no
/// page matched).
pub fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Where a page of the UI is: the tenant it shows and the URL prefix of
/// that tenant's pages (`/ui` for the default tenant, `/ui/{tenant}`).
#[derive(Debug, Clone)]
pub struct Here {
    pub tenant: TenantId,
    pub base: String,
}

impl Here {
    fn of(tenant: TenantId) -> Here {
        let base = match tenant.as_named() {
            Some(id) => format!("/ui/{id}"),
            None => "/ui".to_owned(),
        };
        Here { tenant, base }
    }

    /// A gRPC request in this tenant on behalf of the session's caller.
    pub fn request<T>(&self, session: &Session, message: T) -> tonic::Request<T> {
        session.caller.request(message, Some(&self.tenant))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Here {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Here>()
            .cloned()
            .ok_or_else(|| UiError::internal("page is not mounted behind tenant resolution"))
    }
}

async fn default_tenant(State(state): State<AppState>, request: Request, next: Next) -> Response {
    resolve(&state, TenantId::default_tenant(), request, next).await
}

async fn named_tenant(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let segment = params.get("tenant").map(String::as_str).unwrap_or_default();
    match TenantId::parse(segment) {
        Ok(tenant) => resolve(&state, tenant, request, next).await,
        Err(_) => UiError::tenant_not_found(segment).into_response(),
    }
}

/// The same check as the API's: an unknown, deleted, malformed or
/// inaccessible tenant is one "not found" page, whatever the reason.
async fn resolve(state: &AppState, tenant: TenantId, mut request: Request, next: Next) -> Response {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return UiError::internal("no session").into_response();
    };
    if let Err(status) = state.directory.resolve(&tenant, &session.caller).await {
        return match status.code() {
            tonic::Code::NotFound | tonic::Code::PermissionDenied => {
                UiError::tenant_not_found(tenant.as_named().unwrap_or("default")).into_response()
            }
            _ => UiError::from(status).into_response(),
        };
    }
    request.extensions_mut().insert(Here::of(tenant));
    next.run(request).await
}

/// `/ui`: the flows of the first tenant the caller can use.
async fn home(State(state): State<AppState>, session: Session) -> Result<Response, UiError> {
    let chrome = page::Chrome::load(&state, &session, None, "home").await?;
    if let Some(first) = chrome.tenants.first() {
        return Ok(Redirect::to(&format!("{}/flows", first.base)).into_response());
    }
    // Administration -> Tenants exists with multi-tenancy only; without
    // it a super admin bound nowhere manages users.
    if chrome.admin && chrome.multi_tenancy {
        return Ok(Redirect::to("/ui/tenants").into_response());
    }
    if chrome.super_admin {
        return Ok(Redirect::to("/ui/users").into_response());
    }
    page::render(
        axum::http::StatusCode::OK,
        "Welcome",
        "home.html",
        context! { chrome },
    )
}

/// `/ui/{tenant}`: its flows.
async fn tenant_home(Path(tenant): Path<String>) -> Response {
    match TenantId::parse(&tenant) {
        Ok(_) => Redirect::to(&format!("/ui/{tenant}/flows")).into_response(),
        Err(_) => UiError::tenant_not_found(&tenant).into_response(),
    }
}

/// `/ui/me/tenant?to=T&page=P`: the tenant dropdown without JavaScript. The
/// kind of page is kept; the target page checks the tenant.
async fn switch_tenant(
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, UiError> {
    let mut to = String::new();
    let mut section = "flows";
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "to" => to = value.into_owned(),
            "page" => {
                section = SECTIONS
                    .iter()
                    .find(|s| **s == value)
                    .copied()
                    .unwrap_or("flows");
            }
            _ => {}
        }
    }
    let base = if to == page::DEFAULT_TENANT_OPTION {
        Here::of(TenantId::default_tenant()).base
    } else {
        let tenant = TenantId::parse(&to).map_err(|_| UiError::tenant_not_found(&to))?;
        Here::of(tenant).base
    };
    Ok(Redirect::to(&format!("{base}/{section}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_paths_are_the_ui_and_its_assets_only() {
        assert!(is_ui_path("/ui"));
        assert!(is_ui_path("/ui/acme/flows"));
        assert!(is_ui_path("/ui-assets/app.css"));
        assert!(is_ui_path("/favicon.ico"));
        assert!(!is_ui_path("/uix"));
        assert!(!is_ui_path("/api/v1/flows"));
    }

    #[test]
    fn a_tenants_pages_live_under_its_id_and_the_defaults_under_ui() {
        assert_eq!(Here::of(TenantId::default_tenant()).base, "/ui");
        let acme = TenantId::parse("acme").expect("id");
        assert_eq!(Here::of(acme).base, "/ui/acme");
    }
}

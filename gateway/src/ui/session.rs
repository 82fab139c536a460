//! Signing in and out, and the session: the access token lives in a cookie
//! that scripts cannot read (HttpOnly), that no other site's request carries
//! (SameSite=Strict), that is `Secure` per `aerie.ui.secure-cookies`, and
//! that expires with the token. The token never appears in a URL or a page.
//!
//! Every form carries a CSRF token: for a session, a digest of the session
//! token (a page's source shows the digest, never the token); for the
//! sign-in form, a random value also set in a cookie of its own.

use std::net::SocketAddr;

use aerie_common::auth::Caller;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::page::{self, UiError};
use crate::state::AppState;

const SESSION_COOKIE: &str = "aerie_session";
const LOGIN_COOKIE: &str = "aerie_login";
const LOGIN_PATH: &str = "/ui/auths/login";
/// Largest form the UI accepts (a flow's YAML is the big one); the
/// gateway's request size limit applies as well.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The signed-in caller of a UI request, and the CSRF token of its forms.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| UiError::internal("page is not mounted behind the session"))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route(LOGIN_PATH, get(sign_in_page).post(sign_in))
}

/// The CSRF token of a session: a digest of its token, so that it is fixed
/// for the session, unknown to other sites, and not the token itself.
fn csrf_of(token: &str) -> String {
    let digest = Sha256::digest(format!("aerie-ui-csrf:{token}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A cookie's name: with `Secure`, the `__Host-` prefix, so that no
/// sibling host and no plain-HTTP answer can set it for this site.
fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The value of cookie `name` in the request. A name sent twice (a cookie
/// planted beside ours, with a more specific path) counts as none.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value);
    let first = found.next();
    if found.next().is_some() {
        return None;
    }
    first.filter(|value| !value.is_empty())
}

/// `__Host-` cookies must have `Path=/`; the others stay under `/ui`.
fn set_cookie(base: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let name = cookie_name(base, secure);
    let attributes = if secure { "Path=/; Secure" } else { "Path=/ui" };
    HeaderValue::from_str(&format!(
        "{name}={value}; {attributes}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("aerie_invalid=; Max-Age=0"))
}

/// Where to go after signing in: a UI path of this site, nothing else (no
/// `..` or encoded separators that would climb out of `/ui/`).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| (*n == "/ui" || n.starts_with("/ui/")) && !n.contains("//"))
        .filter(|n| {
            let path = n.split(['?', '#']).next().unwrap_or_default();
            let lower = path.to_ascii_lowercase();
            !path.split('/').any(|segment| segment == "..")
                && !lower.contains("%2e")
                && !lower.contains("%2f")
                && !lower.contains("%5c")
        })
        .filter(|n| !n.contains('\\') && !n.chars().any(char::is_control))
        .unwrap_or("/ui")
        .to_owned()
}

/// Middleware of every signed-in page: no valid session cookie → the
/// sign-in page, coming back here afterwards (for a page that is read).
pub async fn require_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let name = cookie_name(SESSION_COOKIE, state.secure_cookies);
    let token = cookie(request.headers(), &name).map(str::to_owned);
    let caller = match &token {
        Some(token) => state
            .verifier
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .ok(),
        None => None,
    };
    let (Some(token), Some(caller)) = (token, caller) else {
        return to_sign_in(
            request.uri(),
            request.method() == axum::http::Method::GET,
            state.secure_cookies,
        );
    };
    let csrf = csrf_of(&token);
    request.extensions_mut().insert(Session { caller, csrf });
    next.run(request).await
}

fn to_sign_in(uri: &Uri, come_back: bool, secure: bool) -> Response {
    let target = if come_back {
        let next = uri.path_and_query().map_or("/ui", |p| p.as_str());
        let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        format!("{LOGIN_PATH}?next={next}")
    } else {
        LOGIN_PATH.to_owned()
    };
    let mut response = Redirect::to(&target).into_response();
    // A cookie that no longer verifies (expired, revoked key) goes.
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure),
    );
    response
}

/// A form posted to the UI, after the CSRF check: its fields, and its
/// files when it was sent as multipart (a flow's FILE inputs).
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

/// A file chosen in a form.
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub content: Vec<u8>,
}

impl Form {
    fn of(fields: Vec<(String, String)>) -> Form {
        Form {
            fields,
            files: Vec::new(),
        }
    }

    /// Every value of `name` (checkboxes), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads a urlencoded form body of at most [`MAX_FORM_BYTES`].
async fn read_form(request: Request) -> Result<Vec<(String, String)>, UiError> {
    let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            UiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the form is larger than {MAX_FORM_BYTES} bytes"),
            )
        })?;
    Ok(form_urlencoded::parse(&body).into_owned().collect())
}

/// Reads a multipart form (bounded by the gateway's request size limit);
/// a file field left empty is no file.
async fn read_multipart<S: Send + Sync>(request: Request, state: &S) -> Result<Form, UiError> {
    let bad = |e: axum::extract::multipart::MultipartError| UiError::new(e.status(), e.body_text());
    let mut multipart = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(|e| UiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let mut form = Form::of(Vec::new());
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(filename) => {
                let content = field.bytes().await.map_err(bad)?;
                if !filename.is_empty() || !content.is_empty() {
                    form.files.push(Upload {
                        field: name,
                        filename,
                        content: content.to_vec(),
                    });
                }
            }
            None => {
                let text = field.text().await.map_err(bad)?;
                form.fields.push((name, text));
            }
        }
    }
    Ok(form)
}

/// A state change must come from a page of this site: another origin is
/// refused even before the token is looked at.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        // Browsers send Origin on every POST; a client without it is not
        // a browser another site can drive.
        _ => true,
    }
}

fn csrf_refused() -> UiError {
    UiError::new(
        StatusCode::FORBIDDEN,
        "this form's security token is missing or out of date: reload the page and try again",
    )
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected = request
            .extensions()
            .get::<Session>()
            .map(|s| s.csrf.clone())
            .ok_or_else(|| UiError::internal("form is not behind the session"))?;
        if !same_origin(request.headers()) {
            return Err(csrf_refused());
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let form = if content_type.starts_with("application/x-www-form-urlencoded") {
            Form::of(read_form(request).await?)
        } else if content_type.starts_with("multipart/form-data") {
            read_multipart(request, state).await?
        } else {
            return Err(UiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "forms are sent as application/x-www-form-urlencoded or multipart/form-data",
            ));
        };
        if form.get("csrf") != Some(expected.as_str()) {
            return Err(csrf_refused());
        }
        Ok(form)
    }
}

async fn sign_in_page(
    State(state): State<AppState>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, UiError> {
    let next = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "next")
        .map(|(_, value)| value.into_owned());
    sign_in_form(
        &state,
        StatusCode::OK,
        &safe_next(next.as_deref()),
        "",
        None,
    )
}

/// The sign-in form with a fresh CSRF value in the form and its cookie.
fn sign_in_form(
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    problem: Option<&str>,
) -> Result<Response, UiError> {
    let csrf: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut response = page::render(
        status,
        "Sign in",
        "login.html",
        context! { csrf => &csrf, next, username, problem },
    )?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &csrf, 3600, state.secure_cookies),
    );
    Ok(response)
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, UiError> {
    let headers = request.headers().clone();
    let expected =
        cookie(&headers, &cookie_name(LOGIN_COOKIE, state.secure_cookies)).map(str::to_owned);
    if !same_origin(&headers) {
        return Err(csrf_refused());
    }
    let form = Form::of(read_form(request).await?);
    if expected.is_none() || form.get("csrf") != expected.as_deref() {
        return Err(csrf_refused());
    }
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let request = crate::routes::auth::issue_token_request(
        &state,
        peer,
        &headers,
        username.clone(),
        password,
    );
    let token = match state.auth.clone().issue_token(request).await {
        Ok(token) => token.into_inner(),
        Err(status) => {
            let (code, message) = aerie_common::error::http_error(&status);
            return sign_in_form(&state, code, &next, &username, Some(&message));
        }
    };
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token.access_token,
            token.expires_in,
            state.secure_cookies,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", 0, state.secure_cookies),
    );
    Ok(response)
}

/// Signing out: the session's token is ended everywhere (auth-svc), then
/// the cookie goes. A token that cannot be ended now (auth-svc down) still
/// loses its cookie, and says so in the log; it expires on its own.
pub async fn sign_out(State(state): State<AppState>, session: Session, _: Form) -> Response {
    let ended = state
        .auth
        .clone()
        .revoke_token(
            session
                .caller
                .request(aerie_proto::auth::v1::RevokeTokenRequest {}, None),
        )
        .await;
    if let Err(status) = ended {
        tracing::warn!(user = %session.caller.name, %status, "sign-out could not end the token");
    }
    let mut response = Redirect::to(LOGIN_PATH).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ui_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/ui/acme/flows?q=x")), "/ui/acme/flows?q=x");
        for hostile in [
            "https://evil.example/",
            "//evil.example/ui",
            "/ui//evil.example",
            "/api/v1/tenants",
            "/ui\\..\\x",
            "/ui/../api/v1/tenants",
            "/ui/a/%2e%2e/%2E%2E/api",
            "/ui/a%2F..%2Fb",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/ui", "{hostile}");
        }
        assert_eq!(safe_next(None), "/ui");
    }

    #[test]
    fn the_csrf_token_is_fixed_per_session_and_is_not_the_token() {
        let a = csrf_of("token-a");
        assert_eq!(a, csrf_of("token-a"));
        assert_ne!(a, csrf_of("token-b"));
        assert!(!a.contains("token"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn cookies_are_read_by_exact_name_and_a_planted_twin_voids_them() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("aerie_session_x=1; aerie_session=abc"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("aerie_session=planted; aerie_session=abc"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn session_cookies_cannot_be_read_by_scripts_or_sent_by_other_sites() {
        let value = set_cookie(SESSION_COOKIE, "t", 60, true);
        let value = value.to_str().expect("ascii");
        assert!(value.starts_with("__Host-aerie_session=t;"), "{value}");
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=60",
            "Secure",
            "Path=/;",
        ] {
            assert!(value.contains(part), "{value}");
        }
        let plain = set_cookie(SESSION_COOKIE, "t", 60, false);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.starts_with("aerie_session=t;") && plain.contains("Path=/ui"));
        assert!(!plain.contains("Secure"));
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("aerie.example"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://aerie.example"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
    }
}

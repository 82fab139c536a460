//! The UI's own stylesheet and script, embedded in the binary (no build
//! step, nothing vendored). Served outside `/ui/` so that no tenant id can
//! shadow them.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

pub const PREFIX: &str = "/ui-assets/";

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ui-assets/app.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/ui-assets/app.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        // Browsers ask for it on every site: no icon, and no 401 in the
        // console either.
        .route(
            FAVICON,
            get(|| async {
                let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                );
                response
            }),
        )
}

/// The icon path browsers ask for.
pub const FAVICON: &str = "/favicon.ico";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

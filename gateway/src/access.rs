//! What happens to every request on its way in and out, in one middleware:
//! its request id, its span (joined to the caller's trace), the access log
//! line, the HTTP metrics, and a JSON body for errors made outside our
//! handlers. One layer instead of one per concern: a profile of an
//! authenticated read put the five stacked tower layers (each with its own
//! clone, boxed future and response-body wrapper) at about 15% of the
//! gateway's CPU per request.

use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::ApiError;

/// Header carrying the request id, set when the caller sends none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Target of the access log line (one per request, at INFO; ERROR for a
/// 5xx): `-l info,aerie_gateway::access=warn` keeps the other logs without it.
pub const ACCESS_LOG_TARGET: &str = "aerie_gateway::access";

/// The middleware; `body_limit` is the request body limit, named in the
/// 413 message.
pub async fn observe(State(body_limit): State<usize>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The route template (`/api/v1/tenants/{id}`), never the raw path: ids
    // would make metric labels unbounded. Cloning it is a reference count.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "http",
        otel.name = %SpanName(method, route),
        otel.kind = "server",
        method = %request.method(),
        uri = %crate::routes::executions::webhooks::loggable_uri(request.uri()),
        request_id = %String::from_utf8_lossy(id.as_bytes()),
    );
    if !span.is_disabled() {
        // A caller's `traceparent` makes this request part of its trace.
        aerie_common::telemetry::extract(request.headers(), &span);
    }
    let response = next.run(request).instrument(span.clone()).await;
    let mut response = json_errors(response, body_limit).await;
    let status = response.status();
    let elapsed = started.elapsed();
    aerie_common::metrics::instruments().http_request(method, route, status.as_u16(), elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(target: ACCESS_LOG_TARGET, parent: &span, status = status.as_u16(), latency_ms, "request failed");
    } else {
        tracing::info!(target: ACCESS_LOG_TARGET, parent: &span, status = status.as_u16(), latency_ms, "request finished");
    }
    response
        .headers_mut()
        .entry(REQUEST_ID_HEADER)
        .or_insert(id);
    response
}

/// `GET /api/v1/tenants/{id}`, written only when a span is recorded.
struct SpanName<'a>(&'static str, &'a str);

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// Standard methods by name; anything else is one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// A UUID for a request that came without an id: a random base drawn once
/// per process, with a counter folded into its low bits, so ids are unique
/// within the process (the counter) and across processes (the base) without
/// asking the OS for randomness on every request. Request ids correlate log
/// lines; they are not secrets, so they need not be unpredictable.
fn new_request_id() -> HeaderValue {
    static BASE: LazyLock<u128> = LazyLock::new(|| uuid::Uuid::new_v4().as_u128());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = *BASE ^ u128::from(n);
    let id = uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .expect("a UUID is a valid header value")
}

/// Errors made outside our handlers (405, 413, axum's own) become
/// `{"message"}` like every other error.
async fn json_errors(response: Response, body_limit: usize) -> Response {
    use http_body_util::BodyExt;
    let status = response.status();
    // JSON errors are the API's; HTML ones are the UI's pages.
    let shaped = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || shaped {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    // axum's rejections say what was wrong in plain text ("unknown field
    // `x`"); keep that, bounded, instead of a bare reason phrase.
    let said = http_body_util::Limited::new(response.into_body(), 4096)
        .collect()
        .await
        .ok()
        .and_then(|body| String::from_utf8(body.to_bytes().to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let message = match (status, said) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            format!("request body is too large: at most {body_limit} bytes")
        }
        (StatusCode::METHOD_NOT_ALLOWED, _) => "method not allowed on this route".to_owned(),
        (_, Some(said)) => said,
        (other, None) => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let mut json = ApiError::new(status, message).into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_request_ids_are_distinct_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| new_request_id().to_str().expect("ascii").to_owned())
            .collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
    }

    #[test]
    fn span_names_are_method_and_route_template() {
        assert_eq!(
            SpanName("GET", "/api/v1/tenants/{id}").to_string(),
            "GET /api/v1/tenants/{id}"
        );
    }
}

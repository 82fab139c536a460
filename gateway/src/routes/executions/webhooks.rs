//! `/api/v1{t}/executions/webhook/{namespace}/{flowId}/{key}`: the key is
//! the credential, so these routes need no token and are mounted outside
//! authentication. The tenant comes from the URL like everywhere else;
//! execution-svc checks that it exists and looks the key up only there.

use std::collections::HashMap;

use aerie_common::TenantId;
use aerie_proto::execution::v1 as pb;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;

use super::{Execution, parse_bool};
use crate::error::ApiError;
use crate::state::AppState;

/// Whether `path` is a webhook route (served without a token).
pub fn is_webhook_path(path: &str) -> bool {
    let rest = path.strip_prefix("/api/v1/").unwrap_or_default();
    rest.starts_with("executions/webhook/")
        || rest
            .split_once('/')
            .is_some_and(|(_, after)| after.starts_with("executions/webhook/"))
}

/// The URI as logs and spans may show it: a webhook's key is a credential,
/// so everything after `webhook/{namespace}/{flowId}` (and the query, which
/// a caller may fill with anything) is replaced. That holds for any path
/// with a `webhook` segment, routed or not: a mistyped webhook URL
/// (`.../KEY/extra`, `/%65xecutions/...`) still carries its key. Other URIs
/// are shown whole.
pub fn loggable_uri(uri: &axum::http::Uri) -> String {
    let path = uri.path();
    let segments: Vec<&str> = path.split('/').collect();
    let Some(webhook) = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("webhook"))
    else {
        return uri.to_string();
    };
    // Namespace and flow are shown only when a key segment follows them;
    // otherwise the key may be in their place.
    let after = &segments[webhook + 1..];
    let kept = if after.len() >= 3 {
        webhook + 3
    } else {
        webhook + 1
    };
    format!("{}/<redacted>", segments[..kept].join("/"))
}

/// The one answer for an unknown tenant, flow, trigger or key: a caller
/// without the key learns nothing, not even whether the tenant exists.
fn unknown_webhook() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no webhook trigger of this flow has this key",
    )
}

#[derive(Debug, Deserialize)]
struct DefaultPath {
    namespace: String,
    flow_id: String,
    key: String,
}

#[derive(Debug, Deserialize)]
struct NamedPath {
    tenant: String,
    namespace: String,
    flow_id: String,
    key: String,
}

/// The webhook routes of the URL forms the configuration allows.
pub fn routes(multi_tenancy: bool) -> Router<AppState> {
    let mut router = Router::new().route(
        "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}",
        any(default_tenant),
    );
    if multi_tenancy {
        router = router.route(
            "/api/v1/{tenant}/executions/webhook/{namespace}/{flow_id}/{key}",
            any(named_tenant),
        );
    }
    router
}

/// The webhook routes as the OpenAPI document shows them (they are served
/// by [`routes`], outside authentication: the key is the credential).
pub fn documentation(multi_tenancy: bool) -> utoipa::openapi::OpenApi {
    let mut api = utoipa_axum::router::OpenApiRouter::<AppState>::new()
        .routes(utoipa_axum::routes!(default_tenant));
    if multi_tenancy {
        api = api.routes(utoipa_axum::routes!(named_tenant));
    }
    api.split_for_parts().1
}

/// Start an execution through a flow's Webhook trigger (no token: the key is the credential).
///
/// The body (JSON, a form or text), the query (a repeated parameter as a
/// list) and the headers become `trigger.body`, `trigger.parameters` and
/// `trigger.headers`. A trigger condition that is false answers 204 and
/// starts nothing. `?wait=true` answers when the execution ends.
#[utoipa::path(method(get, post, put), path = "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}",
    tag = "executions", operation_id = "webhook",
    params(("namespace" = String, Path), ("flow_id" = String, Path), ("key" = String, Path, description = "the trigger's key")),
    request_body(content = String, content_type = "text/plain",
        description = "any body: JSON, a form or text (read by its own Content-Type)"),
    responses((status = 200, body = Execution), (status = 204, description = "a condition was false: nothing started"),
              (status = 404, body = crate::error::ErrorBody), (status = 405, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)),
    security(()))]
async fn default_tenant(
    State(state): State<AppState>,
    method: Method,
    Path(path): Path<DefaultPath>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = (
        TenantId::default_tenant(),
        path.namespace,
        path.flow_id,
        path.key,
    );
    trigger(state, method, target, raw, headers, body).await
}

/// Start an execution of a tenant's flow through its Webhook trigger (no token: the key is the credential).
#[utoipa::path(method(get, post, put), path = "/api/v1/{tenant}/executions/webhook/{namespace}/{flow_id}/{key}",
    tag = "executions", operation_id = "webhook_in_tenant",
    params(("tenant" = String, Path), ("namespace" = String, Path), ("flow_id" = String, Path),
           ("key" = String, Path, description = "the trigger's key")),
    request_body(content = String, content_type = "text/plain",
        description = "any body: JSON, a form or text (read by its own Content-Type)"),
    responses((status = 200, body = Execution), (status = 204, description = "a condition was false: nothing started"),
              (status = 404, body = crate::error::ErrorBody), (status = 405, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)),
    security(()))]
async fn named_tenant(
    State(state): State<AppState>,
    method: Method,
    Path(path): Path<NamedPath>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = TenantId::parse(&path.tenant).map_err(|_| unknown_webhook())?;
    let target = (tenant, path.namespace, path.flow_id, path.key);
    trigger(state, method, target, raw, headers, body).await
}

async fn trigger(
    state: AppState,
    method: Method,
    (tenant, namespace, flow_id, key): (TenantId, String, String, String),
    raw: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !matches!(method, Method::GET | Method::POST | Method::PUT) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "webhooks answer GET, POST and PUT",
        ));
    }
    state
        .directory
        .policy()
        .admit(&tenant)
        .map_err(|_| unknown_webhook())?;
    let mut wait = false;
    let mut parameters: HashMap<String, pb::Values> = HashMap::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if name == "wait" {
            wait = parse_bool("wait", &value)?;
        } else {
            let values = &mut parameters.entry(name.into_owned()).or_default().values;
            values.push(value.into_owned());
        }
    }
    // Credentials are not passed on to the flow.
    let mut forwarded: HashMap<String, pb::Values> = HashMap::new();
    for (name, value) in headers.iter() {
        if name == header::AUTHORIZATION || name == header::COOKIE {
            continue;
        }
        if let Ok(value) = value.to_str() {
            let values = &mut forwarded
                .entry(name.as_str().to_owned())
                .or_default()
                .values;
            values.push(value.to_owned());
        }
    }
    let mut request = tonic::Request::new(pb::TriggerWebhookRequest {
        namespace,
        flow_id,
        key,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: body.to_vec(),
        headers: forwarded,
        parameters,
        wait,
    });
    if let Some(id) = tenant.as_named()
        && let Ok(value) = id.parse()
    {
        request
            .metadata_mut()
            .insert(aerie_common::tenant::TENANT_HEADER, value);
    }
    let answer = match state.webhooks.clone().trigger_webhook(request).await {
        Ok(answer) => answer.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => return Err(unknown_webhook()),
        Err(status) => return Err(status.into()),
    };
    Ok(match answer.execution {
        Some(execution) => Json(Execution::from(execution)).into_response(),
        // The trigger's conditions are false: nothing started.
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::{is_webhook_path, loggable_uri};

    #[test]
    fn webhook_keys_never_reach_logs() {
        let shown = |uri: &str| loggable_uri(&uri.parse().expect("uri"));
        assert_eq!(
            shown("/api/v1/acme/executions/webhook/ns/f/s3cr3t?wait=true"),
            "/api/v1/acme/executions/webhook/ns/f/<redacted>"
        );
        assert_eq!(
            shown("/api/v1/executions/webhook/ns/f/s3cr3t"),
            "/api/v1/executions/webhook/ns/f/<redacted>"
        );
        assert_eq!(
            shown("/api/v1/acme/flows/ns?x=1"),
            "/api/v1/acme/flows/ns?x=1"
        );
        // Paths no route matches keep their key to themselves too.
        assert_eq!(
            shown("/api/v1/acme/executions/webhook/ns/f/s3cr3t/extra"),
            "/api/v1/acme/executions/webhook/ns/f/<redacted>"
        );
        assert_eq!(
            shown("/api/v1/acme/%65xecutions/webhook/ns/f/s3cr3t"),
            "/api/v1/acme/%65xecutions/webhook/ns/f/<redacted>"
        );
        assert_eq!(
            shown("/api/v1/acme/executions/WEBHOOK/ns/s3cr3t"),
            "/api/v1/acme/executions/WEBHOOK/<redacted>"
        );
        assert_eq!(
            shown("/api/v1/executions/webhook/ns/f/s3cr3t/"),
            "/api/v1/executions/webhook/ns/f/<redacted>"
        );
    }

    #[test]
    fn webhook_paths_are_recognised() {
        assert!(is_webhook_path("/api/v1/executions/webhook/ns/f/k"));
        assert!(is_webhook_path("/api/v1/acme/executions/webhook/ns/f/k"));
        assert!(!is_webhook_path("/api/v1/executions/ns/f"));
        assert!(!is_webhook_path("/api/v1/acme/flows/executions/webhook/x"));
        assert!(!is_webhook_path("/api/v2/executions/webhook/ns/f/k"));
    }
}

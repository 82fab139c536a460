//! Cached access and tenant state across processes. With a thousand
//! tenants in play, every process keeps its answers until auth-svc or
//! tenant-svc announces a change, so a second pass over every tenant asks
//! neither service again; and a revocation reaches every process well
//! before an unannounced answer would expire.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::cluster::Cluster;

const TENANTS: usize = 1000;

fn tenant(i: usize) -> String {
    format!("t{i:04}")
}

async fn send(
    http: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = crate::app::http_client()
        .request(method, format!("{http}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    crate::app::read(request.send().await.expect("request")).await
}

/// The calls auth-svc and tenant-svc answered so far that a cached answer
/// saves: access decisions, namespace scopes and tenant lookups.
async fn lookups(cluster: &Cluster) -> f64 {
    let mut total = 0.0;
    for (service, series) in [
        (
            "auth",
            r#"aerie_grpc_server_requests_total{service="aerie.auth.v1.AuthService",method="CheckAccess",code="Ok"}"#,
        ),
        (
            "auth",
            r#"aerie_grpc_server_requests_total{service="aerie.auth.v1.AuthService",method="GetGrantedNamespaces",code="Ok"}"#,
        ),
        (
            "tenant",
            r#"aerie_grpc_server_requests_total{service="aerie.tenant.v1.TenantService",method="GetTenant",code="Ok"}"#,
        ),
    ] {
        let text = crate::observability::scrape(cluster.metrics[service]).await;
        total += crate::observability::value(&text, series).unwrap_or(0.0);
    }
    total
}

/// Sends `path` as `token` until `refused(status)`; fails after `within`.
async fn refused_within(
    http: &str,
    token: &str,
    path: &str,
    within: Duration,
    refused: impl Fn(u16) -> bool,
) {
    let since = Instant::now();
    loop {
        let (status, body) = send(http, token, Method::GET, path, None).await;
        if refused(status) {
            return;
        }
        assert!(
            since.elapsed() < within,
            "{path} still answers {status} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_thousand_tenants_stay_cached_and_revocations_reach_every_process_at_once() {
    let cluster = Cluster::start(&[]).await;
    let http = cluster.http.clone();
    let admin = crate::app::login(&http, "admin", "admin-password").await;
    let (status, body) = send(
        &http,
        &admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "erin", "password": "erin-password"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    futures::stream::iter(0..TENANTS)
        .map(|i| {
            let (http, admin) = (http.clone(), admin.clone());
            async move {
                let (status, body) = send(
                    &http,
                    &admin,
                    Method::POST,
                    "/api/v1/tenants",
                    Some(json!({"id": tenant(i), "name": tenant(i), "adminUsername": "erin"})),
                )
                .await;
                assert_eq!(status, 201, "{body}");
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let erin = crate::app::login(&http, "erin", "erin-password").await;
    let pass = || {
        futures::stream::iter(0..TENANTS)
            .map(|i| {
                let (http, erin) = (http.clone(), erin.clone());
                async move {
                    let path = format!("/api/v1/{}/flows/search", tenant(i));
                    let (status, body) = send(&http, &erin, Method::GET, &path, None).await;
                    assert_eq!(status, 200, "{path}: {body}");
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>()
    };
    pass().await;
    // Past the time an unannounced answer is trusted: from here on only
    // the change streams keep the answers in the gateway and flow-svc.
    tokio::time::sleep(aerie_common::changes::FALLBACK_TTL + Duration::from_millis(500)).await;
    let before = lookups(&cluster).await;
    pass().await;
    let asked = lookups(&cluster).await - before;
    assert!(
        asked < (TENANTS / 20) as f64,
        "a second pass over {TENANTS} tenants asked auth-svc and tenant-svc {asked} times"
    );

    // Each revocation must show before FALLBACK_TTL: only an announcement
    // can make it that fast.
    let soon = aerie_common::changes::FALLBACK_TTL - Duration::from_millis(500);
    let (status, bindings) = send(&http, &admin, Method::GET, "/api/v1/t0500/bindings", None).await;
    assert_eq!(status, 200, "{bindings}");
    let erins = bindings["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|b| b["subject"] == "erin")
        .and_then(|b| b["id"].as_str())
        .expect("erin's binding")
        .to_owned();
    let (status, body) = send(
        &http,
        &admin,
        Method::DELETE,
        &format!("/api/v1/t0500/bindings/{erins}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    refused_within(&http, &erin, "/api/v1/t0500/flows/search", soon, |s| {
        matches!(s, 403 | 404)
    })
    .await;
    let (status, _) = send(
        &http,
        &erin,
        Method::GET,
        "/api/v1/t0501/flows/search",
        None,
    )
    .await;
    assert_eq!(status, 200, "another tenant keeps erin's access");

    let (status, body) = send(&http, &admin, Method::DELETE, "/api/v1/tenants/t0502", None).await;
    assert_eq!(status, 204, "{body}");
    refused_within(&http, &erin, "/api/v1/t0502/flows/search", soon, |s| {
        s == 404
    })
    .await;

    let (status, body) = send(&http, &admin, Method::DELETE, "/api/v1/users/erin", None).await;
    assert_eq!(status, 204, "{body}");
    refused_within(&http, &erin, "/api/v1/t0999/flows/search", soon, |s| {
        matches!(s, 401 | 403 | 404)
    })
    .await;
    cluster.processes.stop();
}

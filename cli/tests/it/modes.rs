//! Tenant resolution from the URL under the three `aerie.tenants` modes.
//! A probe route, mounted through the gateway's real tenant-scoped mounting,
//! answers with the tenant it was resolved to and the `x-aerie-tenant`
//! value that a forwarded call would carry.

use std::time::{Duration, Instant};

use aerie_gateway::tenant_scope::Tenant;
use aerie_gateway::{AppState, app_with_scoped_routes};
use axum::Json;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Mode, TestApp, read};

/// Answers the tenant this request was resolved to.
#[utoipa::path(get, path = "/probe", responses((status = 200)))]
async fn probe(tenant: Tenant) -> Json<Value> {
    let forwarded = tenant.request(());
    let header = forwarded
        .metadata()
        .get("x-aerie-tenant")
        .map(|v| v.to_str().expect("ascii").to_owned());
    Json(json!({ "tenant": tenant.id, "header": header }))
}

/// A second gateway in front of `app`'s services, with the probe mounted.
async fn probe_gateway(app: &TestApp) -> String {
    let mut config = app.config.clone();
    config.endpoints.tenant = Some(app.grpc.clone());
    config.endpoints.auth = Some(app.grpc.clone());
    let state = AppState::new(&config).expect("state");
    let router = app_with_scoped_routes(state, OpenApiRouter::new().routes(routes!(probe)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = app.shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    format!("http://{addr}")
}

/// GET through the probe gateway as `app`'s super admin.
async fn get(app: &TestApp, base: &str, path: &str) -> (u16, Value) {
    let response = crate::app::http_client()
        .get(format!("{base}{path}"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("GET");
    read(response).await
}

#[tokio::test]
async fn single_tenant_mode_has_only_the_default_tenant_form() {
    let app = TestApp::start(Mode::SingleTenant).await;
    let gateway = probe_gateway(&app).await;
    let (status, body) = get(&app, &gateway, "/api/v1/probe").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"tenant": null, "header": null}));
    let (status, _) = get(&app, &gateway, "/api/v1/stage/probe").await;
    assert_eq!(
        status, 404,
        "no tenant segment exists with multi-tenancy off"
    );
    let (status, body) = app.get("/api/v1/tenants").await;
    assert_eq!(status, 404, "no tenant management either: {body}");
    let (status, _) = app
        .post("/api/v1/tenants", json!({"id": "stage", "name": "S"}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn multi_tenant_mode_with_default_serves_both_forms() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let gateway = probe_gateway(&app).await;
    app.create_tenant("stage").await;

    let (status, body) = get(&app, &gateway, "/api/v1/stage/probe").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"tenant": "stage", "header": "stage"}));
    let (status, body) = get(&app, &gateway, "/api/v1/probe").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"tenant": null, "header": null}));

    let (status, body) = get(&app, &gateway, "/api/v1/unknown/probe").await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "tenant 'unknown' not found");
    let (status, body) = get(&app, &gateway, "/api/v1/Bad_Id/probe").await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "tenant 'Bad_Id' not found");

    let (_, doc) = get(&app, &gateway, "/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(
        paths.contains_key("/api/v1/{tenant}/probe"),
        "{:?}",
        paths.keys()
    );
    assert!(paths.contains_key("/api/v1/probe"));
}

#[tokio::test]
async fn multi_tenant_mode_without_default_refuses_the_default_form() {
    let app = TestApp::start(Mode::MultiWithoutDefault).await;
    let gateway = probe_gateway(&app).await;
    app.create_tenant("prod").await;
    let (status, body) = get(&app, &gateway, "/api/v1/probe").await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("default tenant is disabled"),
        "{body}"
    );
    let (status, body) = get(&app, &gateway, "/api/v1/prod/probe").await;
    assert_eq!(status, 200);
    assert_eq!(body["tenant"], "prod");
}

#[tokio::test]
async fn deleting_a_tenant_drops_its_cached_resolution() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let gateway = probe_gateway(&app).await;
    app.create_tenant("short-lived").await;
    app.create_tenant("elsewhere").await;
    // Both resolutions are now cached by the probe gateway.
    assert_eq!(
        get(&app, &gateway, "/api/v1/short-lived/probe").await.0,
        200
    );
    assert_eq!(get(&app, &gateway, "/api/v1/elsewhere/probe").await.0, 200);

    // Deleted through this gateway: gone at once.
    let response = crate::app::http_client()
        .delete(format!("{gateway}/api/v1/tenants/short-lived"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);
    let (status, body) = get(&app, &gateway, "/api/v1/short-lived/probe").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        get(&app, &gateway, "/api/v1/elsewhere/probe").await.0,
        200,
        "other tenants keep their entry"
    );

    // Deleted through another process: gone when tenant-svc announces it,
    // well before the entry would expire unannounced.
    let (status, _) = app.delete("/api/v1/tenants/elsewhere").await;
    assert_eq!(status, 204);
    let deadline =
        Instant::now() + aerie_common::changes::FALLBACK_TTL - Duration::from_millis(500);
    loop {
        let (status, _) = get(&app, &gateway, "/api/v1/elsewhere/probe").await;
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "deleted tenant still resolves");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

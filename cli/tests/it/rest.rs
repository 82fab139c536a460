//! Tenant management through the REST gateway, plus the gateway's own
//! behaviour: JSON errors, body limit, request ids, OpenAPI, health.

use aerie_proto::tenant::v1 as pb;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use serde_json::json;

use crate::app::{Mode, TestApp, read};

#[tokio::test]
async fn tenant_crud_through_rest() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, created) = app
        .post("/api/v1/tenants", json!({"id": "stage", "name": "Staging"}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "stage");
    assert_eq!(created["name"], "Staging");
    assert_eq!(created["deleted"], false);
    assert!(created["createTime"].is_string());

    let (status, got) = app.get("/api/v1/tenants/stage").await;
    assert_eq!(status, 200);
    assert_eq!(got, created);

    let (status, renamed) = app
        .put("/api/v1/tenants/stage", json!({"name": "Staging EU"}))
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Staging EU");

    let (status, page) = app
        .get("/api/v1/tenants?page=1&size=10&sort=name:asc")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["results"][0]["name"], "Staging EU");

    let (status, body) = app.delete("/api/v1/tenants/stage").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app.get("/api/v1/tenants/stage").await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "tenant 'stage' not found");
    let (status, _) = app.delete("/api/v1/tenants/stage").await;
    assert_eq!(status, 404);
}

/// The seed's own example, `-d '{ "id": "stage", "name": "staging",
/// "deleted": false}'`, works as written; `deleted: true` is refused, not
/// ignored, and nothing is written.
#[tokio::test]
async fn kestra_tenant_bodies_with_deleted_false_are_accepted() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "gone", "name": "Gone", "deleted": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("deleted: true"),
        "{body}"
    );
    let (status, _) = app.get("/api/v1/tenants/gone").await;
    assert_eq!(status, 404, "a refused create writes nothing");

    let (status, created) = app
        .post(
            "/api/v1/tenants",
            json!({ "id": "stage", "name": "staging", "deleted": false}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["deleted"], false);

    // Kestra's clients PUT the whole tenant back: id, name, deleted.
    let (status, renamed) = app
        .put(
            "/api/v1/tenants/stage",
            json!({"id": "stage", "name": "staging EU", "deleted": false}),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "staging EU");

    let (status, body) = app
        .put(
            "/api/v1/tenants/stage",
            json!({"name": "staging", "deleted": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, got) = app.get("/api/v1/tenants/stage").await;
    assert_eq!(
        got["name"], "staging EU",
        "a refused update changes nothing"
    );
    assert_eq!(got["deleted"], false);
}

#[tokio::test]
async fn every_invalid_id_class_answers_422_with_the_rule() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let long = "a".repeat(101);
    for (id, expected) in [
        ("Stage", "^[a-z0-9][a-z0-9_-]{0,99}$"),
        ("-stage", "^[a-z0-9][a-z0-9_-]{0,99}$"),
        ("auditlogs", "reserved"),
        (long.as_str(), "longer than 100"),
        ("", "must not be empty"),
    ] {
        let (status, body) = app
            .post("/api/v1/tenants", json!({"id": id, "name": "Name"}))
            .await;
        assert_eq!(status, 422, "{id}: {body}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains(expected), "{id}: {message}");
    }
    let (status, _) = app.get("/api/v1/tenants/Stage").await;
    assert_eq!(status, 422);
    let (_, page) = app.get("/api/v1/tenants").await;
    assert_eq!(page["total"], 0, "nothing may be half-written");
}

#[tokio::test]
async fn duplicate_is_409_and_concurrent_creates_have_one_winner() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("dup").await;
    let (status, body) = app
        .post("/api/v1/tenants", json!({"id": "dup", "name": "Again"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "tenant 'dup' already exists");

    let attempts = (0..50).map(|i| {
        app.post(
            "/api/v1/tenants",
            json!({"id": "race", "name": format!("Racer {i}")}),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn grpc_and_rest_see_the_same_tenants() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let mut grpc = TenantServiceClient::connect(app.grpc.clone())
        .await
        .expect("connect gRPC");
    fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().expect("ascii");
        request.metadata_mut().insert("authorization", value);
        request
    }
    grpc.create_tenant(bearer(
        &app.admin,
        pb::CreateTenantRequest {
            id: "via-grpc".into(),
            name: "Made over gRPC".into(),
            admin_username: String::new(),
        },
    ))
    .await
    .expect("create over gRPC");
    let (status, body) = app.get("/api/v1/tenants/via-grpc").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "Made over gRPC");

    app.create_tenant("via-rest").await;
    let got = grpc
        .get_tenant(bearer(
            &app.admin,
            pb::GetTenantRequest {
                id: "via-rest".into(),
            },
        ))
        .await
        .expect("get over gRPC")
        .into_inner();
    assert_eq!(got.name, "VIA-REST");
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors() {
    let app =
        TestApp::start_with(Mode::MultiWithDefault, |c| c.server.max_request_size = 1024).await;
    let post_raw = |body: String, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/tenants"))
            .bearer_auth(&app.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, body) = read(
        post_raw("{\"id\": \"x\"".into(), "application/json")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().expect("message").contains("JSON"));

    let (status, body) = read(
        post_raw(
            r#"{"id":"x","name":"X","owner":"me"}"#.into(),
            "application/json",
        )
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");
    assert!(body["message"].as_str().expect("message").contains("owner"));

    let (status, body) = read(post_raw("id: x".into(), "text/plain").await.expect("send")).await;
    assert_eq!(status, 415, "{body}");
    assert!(body["message"].is_string());

    let huge = format!(r#"{{"id":"big","name":"{}"}}"#, "n".repeat(4096));
    let (status, body) = read(post_raw(huge, "application/json").await.expect("send")).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["message"],
        "request body is too large: at most 1024 bytes"
    );
    let (status, _) = app.get("/api/v1/tenants/big").await;
    assert_eq!(status, 404, "an oversized create must not be written");

    let (status, body) = app
        .put("/api/v1/tenants/big", json!({"id": "other", "name": "X"}))
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, _) = app.get("/no/such/route").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(reqwest::Method::GET, "/no/such/route", None, None)
        .await;
    assert_eq!(
        status, 401,
        "without a token nothing is revealed, not even 404"
    );
    let (status, body) = app.get("/no/such/route").await;
    assert_eq!(status, 404);
    assert!(body["message"].is_string());
    let response = app
        .client
        .patch(app.url("/api/v1/tenants"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("PATCH");
    assert!(response.headers().contains_key("allow"));
    let (status, body) = read(response).await;
    assert_eq!(status, 405);
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let response = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("GET");
    let generated = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let response = app
        .client
        .get(app.url("/api/v1/tenants/nope"))
        .bearer_auth(&app.admin)
        .header("x-request-id", "caller-chosen-42")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.headers()["x-request-id"], "caller-chosen-42");
    // An id that could forge fields in the access line, or bloat it, is
    // replaced by a fresh one.
    for hostile in ["x status=500 request_id=evil", &"a".repeat(129)] {
        let response = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", hostile)
            .send()
            .await
            .expect("GET");
        let id = response.headers()["x-request-id"].to_str().expect("ascii");
        assert_eq!(id.len(), 36, "a new UUID instead of {hostile}: {id}");
    }
}

#[tokio::test]
async fn health_reports_up_with_its_backends() {
    let app = TestApp::start(Mode::SingleTenant).await;
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "UP", "services": {"tenant": "UP", "auth": "UP", "flow": "UP", "execution": "UP"}})
    );
}

#[tokio::test]
async fn openapi_documents_exactly_the_served_routes() {
    let multi = TestApp::start(Mode::MultiWithDefault).await;
    let (status, doc) = multi.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for path in ["/api/v1/tenants", "/api/v1/tenants/{id}", "/health"] {
        assert!(
            paths.contains_key(path),
            "{path} missing: {:?}",
            paths.keys()
        );
    }
    assert!(doc["paths"]["/api/v1/tenants"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/tenants/{id}"]["delete"].is_object());

    let single = TestApp::start(Mode::SingleTenant).await;
    let (_, doc) = single.get("/api/v1/openapi.json").await;
    assert!(
        !doc["paths"]
            .as_object()
            .expect("paths")
            .contains_key("/api/v1/tenants"),
        "tenant routes are not served with multi-tenancy off, so not documented"
    );
}

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
            validate_only: false,
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

/// What a user's token answers for `method path` with an optional JSON body.
async fn as_user(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    app.send(method, path, Some(token), body).await
}

#[tokio::test]
async fn a_deleted_tenant_is_restored_by_the_super_admin_with_its_data() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("gone").await;
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/gone/flows",
            &app.admin,
            "id: kept\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .await;
    assert_eq!(
        status, 403,
        "the super admin holds no binding in gone: {body}"
    );
    app.user("olga").await;
    let olga = crate::app::login(&app.http, "olga", "olga-password").await;
    app.bind(Some("gone"), "olga", "Admin", None).await;
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/gone/flows",
            &olga,
            "id: kept\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.delete("/api/v1/tenants/gone").await;
    assert_eq!(status, 204);
    let (status, _) = as_user(
        &app,
        &olga,
        reqwest::Method::GET,
        "/api/v1/gone/flows/ns/kept",
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A tenant Admin, or a holder of TENANT:CREATE, may not restore.
    app.user("creator").await;
    app.bind(None, "creator", "Admin", None).await;
    let creator = crate::app::login(&app.http, "creator", "creator-password").await;
    let (status, body) = as_user(
        &app,
        &creator,
        reqwest::Method::POST,
        "/api/v1/tenants/gone/restore",
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["message"],
        "creator may not restore tenants: only a super admin may"
    );

    let (status, restored) = app.post("/api/v1/tenants/gone/restore", json!({})).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["id"], "gone");
    assert_eq!(restored["deleted"], false);
    let (status, flow) = as_user(
        &app,
        &olga,
        reqwest::Method::GET,
        "/api/v1/gone/flows/ns/kept",
        None,
    )
    .await;
    assert_eq!(status, 200, "its data and bindings are back: {flow}");

    let (status, body) = app.post("/api/v1/tenants/gone/restore", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "tenant 'gone' is not deleted");
    let (status, _) = app.post("/api/v1/tenants/never/restore", json!({})).await;
    assert_eq!(status, 404);
    // Audit entries reach the log through a relay: wait for them.
    let mut actions = Vec::new();
    for _ in 0..50 {
        let (status, audit) = as_user(
            &app,
            &olga,
            reqwest::Method::GET,
            "/api/v1/gone/auditlogs/search?resourceType=TENANT",
            None,
        )
        .await;
        assert_eq!(status, 200, "{audit}");
        actions = audit["results"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect();
        if actions.iter().any(|a| a == "RESTORE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        actions.iter().any(|a| a == "RESTORE") && actions.iter().any(|a| a == "DELETE"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_dry_run_create_answers_as_the_create_would_and_writes_nothing() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, would) = app
        .post(
            "/api/v1/tenants?dryRun=true",
            json!({"id": "maybe", "name": "Maybe"}),
        )
        .await;
    assert_eq!(status, 200, "{would}");
    assert_eq!(would["id"], "maybe");
    assert_eq!(would["name"], "Maybe");
    let (status, _) = app.get("/api/v1/tenants/maybe").await;
    assert_eq!(status, 404, "nothing was created");

    let bob = app.user("bob").await;
    let (status, body) = as_user(
        &app,
        &bob,
        reqwest::Method::POST,
        "/api/v1/tenants?dryRun=true",
        Some(json!({"id": "maybe", "name": "Maybe"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (real, real_body) = as_user(
        &app,
        &bob,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(json!({"id": "maybe", "name": "Maybe"})),
    )
    .await;
    assert_eq!(
        (real, &real_body["message"]),
        (status, &body["message"]),
        "the same answer"
    );

    app.create_tenant("taken").await;
    let (status, body) = app
        .post(
            "/api/v1/tenants?dryRun=true",
            json!({"id": "taken", "name": "x"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = app.delete("/api/v1/tenants/taken").await;
    assert_eq!(status, 204);
    let (status, body) = app
        .post(
            "/api/v1/tenants?dryRun=true",
            json!({"id": "taken", "name": "x"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("was deleted"),
        "{body}"
    );
    for (path, bad) in [
        (
            "/api/v1/tenants?dryRun=true",
            json!({"id": "Bad Id", "name": "x"}),
        ),
        (
            "/api/v1/tenants?dryRun=true",
            json!({"id": "fine", "name": ""}),
        ),
        (
            "/api/v1/tenants?dryRun=maybe",
            json!({"id": "fine", "name": "x"}),
        ),
    ] {
        let (status, body) = app.post(path, bad).await;
        assert!(status == 422 || status == 400, "{path}: {status} {body}");
    }
}

/// A create refused for its admin username binds nobody: before, the
/// creator's Admin binding stayed under the id, and whoever created that id
/// later found the refused creator among its Admins.
#[tokio::test]
async fn a_refused_create_leaves_no_binding_for_the_next_owner_of_the_id() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.user("carol").await;
    app.bind(None, "carol", "Admin", None).await;
    let carol = crate::app::login(&app.http, "carol", "carol-password").await;
    app.user("dave").await;
    let (status, body) = as_user(
        &app,
        &carol,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(json!({"id": "c3", "name": "x", "adminUsername": "ghost"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "user 'ghost' does not exist");

    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "c3", "name": "Someone else's", "adminUsername": "dave"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, me) = as_user(&app, &carol, reqwest::Method::GET, "/api/v1/me", None).await;
    assert!(
        !me["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .any(|t| t["id"] == "c3"),
        "{me}"
    );
    let (status, _) = as_user(
        &app,
        &carol,
        reqwest::Method::GET,
        "/api/v1/c3/bindings",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, bindings) = app.get("/api/v1/c3/bindings").await;
    assert_eq!(status, 200, "{bindings}");
    let subjects: Vec<&str> = bindings["results"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["dave"]);
}

#[tokio::test]
async fn restore_tenant_over_grpc() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("back").await;
    let (status, _) = app.delete("/api/v1/tenants/back").await;
    assert_eq!(status, 204);
    let mut grpc = TenantServiceClient::connect(app.grpc.clone())
        .await
        .expect("connect gRPC");
    let mut request = tonic::Request::new(pb::RestoreTenantRequest { id: "back".into() });
    let value = format!("Bearer {}", app.admin).parse().expect("ascii");
    request.metadata_mut().insert("authorization", value);
    let tenant = grpc
        .restore_tenant(request)
        .await
        .expect("restore")
        .into_inner();
    assert_eq!((tenant.id.as_str(), tenant.deleted), ("back", false));
    let (status, _) = app.get("/api/v1/tenants/back").await;
    assert_eq!(status, 200);
}

/// The bodies Kestra's clients send for tenants, users, roles, groups and
/// bindings: fields Aerie has no use for pass when empty (ignoring them
/// changes nothing) and are refused by name when set; Kestra's permission
/// map and `namespaceId` are applied; unknown fields are still refused.
#[tokio::test]
async fn kestra_bodies_pass_when_their_extra_fields_are_empty_and_are_refused_by_name_otherwise() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let expect = |status: u16, body: &serde_json::Value, want: u16, says: &str| {
        assert_eq!(status, want, "{body}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains(says),
            "{body} should say {says}"
        );
    };

    // Tenants: Kestra's extra fields empty; the GET answer sent back.
    let (status, created) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "kt", "name": "KT", "storageType": "", "secretConfiguration": {}, "workerGroup": null}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let mut echoed = created.clone();
    echoed["name"] = json!("KT renamed");
    let (status, renamed) = app.put("/api/v1/tenants/kt", echoed.clone()).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "KT renamed");
    echoed["quotas"] = json!({"runningExecutions": 99});
    let (status, body) = app.put("/api/v1/tenants/kt", echoed).await;
    expect(status, &body, 422, "PUT /api/v1/tenants/{id}/quotas");
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "kw", "name": "KW", "workerGroup": {"key": "gpu", "fallback": "FAIL"}}),
        )
        .await;
    expect(status, &body, 422, "`workerGroup` is not supported");
    let (status, _) = app.get("/api/v1/tenants/kw").await;
    assert_eq!(status, 404, "nothing was created");
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "ku", "name": "KU", "bogus": 1}),
        )
        .await;
    expect(status, &body, 422, "bogus");

    // Users: Kestra's profile fields, empty; then set.
    let (status, user) = app
        .post(
            "/api/v1/users",
            json!({"username": "kim", "password": "kim-password-1", "description": "",
                   "firstName": "", "lastName": "", "email": "", "groups": []}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"username": "lee", "password": "lee-password-1", "firstName": "Lee"}),
        )
        .await;
    expect(status, &body, 422, "`firstName` is not supported");
    let id = user["id"].as_str().expect("id");
    let mut back = user.clone();
    back["superAdmin"] = json!(false);
    back["email"] = json!("");
    let (status, body) = app.put(&format!("/api/v1/users/{id}"), back.clone()).await;
    assert_eq!(status, 200, "{body}");
    back["username"] = json!("kimberly");
    let (status, body) = app.put(&format!("/api/v1/users/{id}"), back).await;
    expect(status, &body, 422, "cannot rename a user");

    // Roles: Kestra's permission map is applied; its namespace is refused.
    app.bind(Some("kt"), "admin", "Admin", None).await;
    let (status, role) = app
        .post(
            "/api/v1/kt/roles",
            json!({"name": "reader", "description": "", "namespaceId": "", "isDefault": false,
                   "permissions": {"FLOW": ["READ"], "EXECUTION": ["READ", "CREATE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let mut permissions: Vec<&str> = role["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    permissions.sort_unstable();
    assert_eq!(
        permissions,
        ["EXECUTION:CREATE", "EXECUTION:READ", "FLOW:READ"]
    );
    let (status, body) = app
        .post(
            "/api/v1/kt/roles",
            json!({"name": "scoped", "namespaceId": "team", "permissions": {"FLOW": ["READ"]}}),
        )
        .await;
    expect(status, &body, 422, "a binding limits a role to a namespace");

    // Groups: Kestra's role maps, empty; then set.
    let (status, group) = app
        .post(
            "/api/v1/kt/groups",
            json!({"name": "devs", "description": "", "namespaceRoles": {}, "globalRoles": []}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let (status, body) = app
        .post(
            "/api/v1/kt/groups",
            json!({"name": "ops", "globalRoles": ["reader"]}),
        )
        .await;
    expect(status, &body, 422, "a group gets roles through bindings");

    // Bindings: Kestra's ids are refused with Aerie's names; its
    // namespaceId is Aerie's namespace.
    let (status, body) = app
        .post(
            "/api/v1/kt/bindings",
            json!({"type": "USER", "externalId": id, "roleId": "reader"}),
        )
        .await;
    expect(
        status,
        &body,
        422,
        "`externalId` is Kestra's; Aerie's body says `subject`",
    );
    let (status, binding) = app
        .post(
            "/api/v1/kt/bindings",
            json!({"type": "USER", "subject": "kim", "role": "reader", "namespaceId": "team"}),
        )
        .await;
    assert_eq!(status, 201, "{binding}");
    assert_eq!(binding["namespace"], "team");
    let (status, body) = app
        .post(
            "/api/v1/kt/bindings",
            json!({"type": "USER", "role": "reader"}),
        )
        .await;
    expect(status, &body, 422, "`subject` is required");
}

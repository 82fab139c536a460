//! `aerie auths users sync-access` and its API: the default tenant's
//! bindings given to a named tenant, and the report of who holds what.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp, call};
use crate::executions::tenant;

async fn created(app: &TestApp, path: &str, body: Value) {
    let (status, answer) = app.post(path, body).await;
    assert!(matches!(status, 200 | 201), "{path}: {status} {answer}");
}

#[tokio::test]
async fn a_tenant_gets_the_default_tenants_bindings_once_and_the_report_says_who_holds_what() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let dev = app.user("dev").await;
    app.user("opsy").await;
    app.user("lonely").await;
    // The default tenant's access, as an instance had it before tenants.
    created(
        &app,
        "/api/v1/roles",
        json!({"name": "Developer", "permissions": ["FLOW:READ", "FLOW:CREATE"]}),
    )
    .await;
    app.bind(None, "dev", "Developer", Some("company")).await;
    created(&app, "/api/v1/groups", json!({"name": "ops"})).await;
    created(
        &app,
        "/api/v1/groups/ops/members",
        json!({"username": "opsy"}),
    )
    .await;
    created(
        &app,
        "/api/v1/bindings",
        json!({"type": "GROUP", "subject": "ops", "role": "Admin"}),
    )
    .await;
    created(&app, "/api/v1/service-accounts", json!({"name": "ci"})).await;
    created(
        &app,
        "/api/v1/bindings",
        json!({"type": "SERVICE_ACCOUNT", "subject": "ci", "role": "Developer"}),
    )
    .await;
    tenant(&app, "acme").await;
    created(&app, "/api/v1/acme/groups", json!({"name": "ops"})).await;
    created(&app, "/api/v1/acme/service-accounts", json!({"name": "ci"})).await;
    tenant(&app, "globex").await;
    created(
        &app,
        "/api/v1/globex/roles",
        json!({"name": "Developer", "permissions": ["FLOW:READ"]}),
    )
    .await;

    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/flows/search", Some(&dev), None)
        .await;
    assert_eq!(status, 404, "no access to acme before the sync");

    // The CLI, from the config file alone.
    let (ok, stdout, stderr) = app
        .cli(&["auths", "users", "sync-access", "--tenant", "acme"])
        .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("added    USER dev Developer on company"),
        "{stdout}"
    );
    assert!(stdout.contains("added    GROUP ops Admin"), "{stdout}");
    assert!(
        stdout.contains("added    SERVICE_ACCOUNT ci Developer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("acme: 3 added, 0 present already, 0 skipped"),
        "{stdout}"
    );
    let (ok, stdout, _) = app
        .cli(&["auths", "users", "sync-access", "--tenant", "acme"])
        .await;
    assert!(ok);
    assert!(
        stdout.contains("acme: 0 added, 3 present already, 0 skipped"),
        "{stdout}"
    );
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/search?namespace=company",
            Some(&dev),
            None,
        )
        .await;
    assert_eq!(
        status, 200,
        "dev reaches acme now, as in the default tenant"
    );
    let (_, roles) = app.get("/api/v1/acme/roles").await;
    assert!(
        roles.to_string().contains("FLOW:CREATE"),
        "the role was copied: {roles}"
    );
    let (ok, _, stderr) = app
        .cli(&["auths", "users", "sync-access", "--tenant", "nowhere"])
        .await;
    assert!(!ok);
    assert!(stderr.contains("tenant nowhere does not exist"), "{stderr}");

    // The API, for the super admin only.
    let (status, synced) = app
        .post(
            "/api/v1/auths/users/sync-access",
            json!({"tenant": "globex"}),
        )
        .await;
    assert_eq!(status, 200, "{synced}");
    let outcome = |subject: &str| {
        synced
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["subject"] == subject)
            .cloned()
            .unwrap_or_else(|| panic!("{subject} in {synced}"))
    };
    assert_eq!(outcome("dev")["outcome"], "SKIPPED");
    assert!(
        outcome("dev")["reason"]
            .as_str()
            .unwrap()
            .contains("other permissions")
    );
    assert_eq!(outcome("ops")["outcome"], "SKIPPED");
    let reason = outcome("ops")["reason"].clone();
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("does not exist in 'globex'"),
        "{reason}"
    );
    let (status, _) = app
        .post(
            "/api/v1/auths/users/sync-access",
            json!({"tenant": "nowhere"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            "/api/v1/auths/users/sync-access",
            json!({"tenant": "Not A Tenant"}),
        )
        .await;
    assert_eq!(status, 422);
    // A tenant's own Admin reads nothing of the default tenant through it.
    let boss = app.user("boss").await;
    app.bind(Some("globex"), "boss", "Admin", None).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/auths/users/sync-access",
            Some(json!({"tenant": "globex"})),
        ),
        (Method::GET, "/api/v1/auths/users/access", None),
    ] {
        let (status, answer) = app.send(method, path, Some(&boss), body).await;
        assert_eq!(status, 403, "{path}: {answer}");
    }
    let (_, bindings) = app.get("/api/v1/globex/bindings").await;
    assert!(
        !bindings.to_string().contains("SERVICE_ACCOUNT"),
        "{bindings}"
    );

    // The report: each user's tenants and roles, and who has none.
    let (ok, stdout, stderr) = app.cli(&["auths", "users", "sync-access"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("dev: (default): Developer on company; acme: Developer on company"),
        "{stdout}"
    );
    // acme's group ops has no members: the binding gives opsy nothing there.
    assert!(
        stdout.contains("opsy: (default): Admin via group ops\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lonely: no access to any tenant"),
        "{stdout}"
    );
    let (status, report) = app.get("/api/v1/auths/users/access").await;
    assert_eq!(status, 200, "{report}");
    let lonely = report
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "lonely")
        .expect("lonely");
    assert_eq!(lonely["tenants"], json!([]));
    let boss_entry = report
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "boss")
        .expect("boss");
    assert_eq!(
        boss_entry["tenants"],
        json!([{"tenant": "globex", "roles": ["Admin"]}])
    );
    // A deleted tenant's bindings are no access.
    let (status, _) = app.delete("/api/v1/tenants/globex").await;
    assert_eq!(status, 204);
    // Services learn of the deletion within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, report) = app.get("/api/v1/auths/users/access").await;
        if !report.to_string().contains("globex") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{report}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, stdout, _) = app.cli(&["auths", "users", "sync-access"]).await;
    assert!(stdout.contains("boss: no access to any tenant"), "{stdout}");
}

/// The same over gRPC (`RbacService/SyncAccess` with the tenant in
/// metadata, `UserService/ListUserAccess`), and the CLI with the server
/// stopped, from the config file alone.
#[tokio::test]
async fn sync_access_over_grpc_and_from_the_cli_with_the_server_stopped() {
    use aerie_proto::auth::v1 as pb;
    use aerie_proto::auth::v1::rbac_service_client::RbacServiceClient;
    use aerie_proto::auth::v1::user_service_client::UserServiceClient;

    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.user("dev").await;
    created(
        &app,
        "/api/v1/roles",
        json!({"name": "Developer", "permissions": ["FLOW:READ"]}),
    )
    .await;
    app.bind(None, "dev", "Developer", None).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;

    let channel = app.channel().await;
    let someone = app.user("someone").await;
    let refused = RbacServiceClient::new(channel.clone())
        .sync_access(call(pb::SyncAccessRequest {}, Some(&someone), Some("acme")))
        .await
        .expect_err("only the super admin");
    assert!(
        matches!(
            refused.code(),
            tonic::Code::PermissionDenied | tonic::Code::NotFound
        ),
        "{refused:?}"
    );
    let synced = RbacServiceClient::new(channel.clone())
        .sync_access(call(
            pb::SyncAccessRequest {},
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("sync over gRPC")
        .into_inner();
    let dev = synced
        .bindings
        .iter()
        .find(|b| b.subject == "dev")
        .expect("dev's binding");
    assert_eq!(
        (dev.role.as_str(), dev.outcome),
        ("Developer", pb::SyncOutcome::Added as i32)
    );
    let report = UserServiceClient::new(channel)
        .list_user_access(call(pb::ListUserAccessRequest {}, Some(&app.admin), None))
        .await
        .expect("report over gRPC")
        .into_inner();
    let dev = report
        .users
        .iter()
        .find(|u| u.username == "dev")
        .expect("dev in the report");
    assert!(
        dev.tenants
            .iter()
            .any(|t| t.tenant.as_deref() == Some("acme") && t.roles == ["Developer"]),
        "{dev:?}"
    );

    // The server stops; the CLI works from the config file alone.
    app.shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (ok, stdout, stderr) = app
        .cli(&["auths", "users", "sync-access", "--tenant", "globex"])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("dev"), "{stdout}");
    let (ok, stdout, stderr) = app.cli(&["auths", "users", "sync-access"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("globex"), "{stdout}");
}

//! Privilege boundaries a hostile tenant Admin pushes against: nothing done
//! inside one tenant yields instance power (super-admin principals are
//! untouchable below super admin).

use reqwest::Method;
use serde_json::json;

use crate::app::{Mode, TestApp};

/// ta with alice as its Admin, and a super-admin service account in ta that
/// only the super admin created.
async fn tenant_with_super_admin_account() -> (TestApp, String) {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("ta").await;
    let alice = app.user("alice").await;
    app.bind(Some("ta"), "alice", "Admin", None).await;
    let (status, body) = app
        .post(
            "/api/v1/ta/service-accounts",
            json!({"name": "automation", "superAdmin": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (app, alice)
}

#[tokio::test]
async fn a_tenant_admin_cannot_mint_or_revoke_tokens_of_a_super_admin_account() {
    let (app, alice) = tenant_with_super_admin_account().await;
    let tokens = "/api/v1/ta/service-accounts/automation/tokens";
    let (status, body) = app
        .send(
            Method::POST,
            tokens,
            Some(&alice),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("super admin"),
        "{body}"
    );

    // The super admin may; alice may neither revoke nor delete what it made.
    let (status, body) = app.post(tokens, json!({"name": "ci"})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("token id").to_owned();
    let (status, body) = app
        .send(
            Method::DELETE,
            &format!("{tokens}/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .send(
            Method::DELETE,
            "/api/v1/ta/service-accounts/automation",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // A lifetime past ten years is refused, never an overflow.
    for huge in [10_000_000_000_000u64, u64::MAX] {
        let (status, body) = app.post(tokens, json!({"expiresIn": huge})).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("expiresIn"),
            "{body}"
        );
    }

    // An ordinary account of the same tenant stays alice's to manage.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/ta/service-accounts",
            Some(&alice),
            Some(json!({"name": "plain"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/ta/service-accounts/plain/tokens",
            Some(&alice),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_tenant_admin_cannot_bind_group_or_unbind_a_super_admin() {
    let (app, alice) = tenant_with_super_admin_account().await;
    for subject in [
        json!({"type": "USER", "subject": "admin"}),
        json!({"type": "SERVICE_ACCOUNT", "subject": "automation"}),
    ] {
        let mut body = subject.clone();
        body["role"] = json!("Admin");
        let (status, answer) = app
            .send(
                Method::POST,
                "/api/v1/ta/bindings",
                Some(&alice),
                Some(body),
            )
            .await;
        assert_eq!(status, 403, "{subject}: {answer}");
    }

    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/ta/groups",
            Some(&alice),
            Some(json!({"name": "ops"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/ta/groups/ops/members",
            Some(&alice),
            Some(json!({"username": "admin"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/ta/groups/ops/members",
            json!({"username": "admin"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .send(
            Method::DELETE,
            "/api/v1/ta/groups/ops/members/admin",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");

    let binding = app.bind(Some("ta"), "admin", "Admin", None).await;
    let (status, body) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/ta/bindings/{binding}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app.get("/api/v1/ta/bindings").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["results"]
            .as_array()
            .expect("bindings")
            .iter()
            .any(|b| b["id"] == binding.as_str())
    );
}

#[tokio::test]
async fn a_tenant_creator_cannot_make_a_super_admin_its_admin() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let creator = app.user("creator").await;
    let (status, body) = app
        .post(
            "/api/v1/roles",
            json!({"name": "creators", "permissions": ["TENANT:CREATE"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(None, "creator", "creators", None).await;
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/tenants",
            Some(&creator),
            Some(json!({"id": "tc", "name": "C", "adminUsername": "admin"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app.get("/api/v1/tenants/tc").await;
    assert_eq!(status, 404, "a refused create leaves no tenant: {body}");
}

#[tokio::test]
async fn auth_svc_answers_missing_deleted_and_foreign_tenants_as_the_gateway_does() {
    use aerie_proto::auth::v1 as pb;
    use aerie_proto::auth::v1::rbac_service_client::RbacServiceClient;
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("ta").await;
    app.create_tenant("tb").await;
    app.create_tenant("gone").await;
    let alice = app.user("alice").await;
    app.bind(Some("ta"), "alice", "Admin", None).await;
    let (status, body) = app.delete("/api/v1/tenants/gone").await;
    assert_eq!(status, 204, "{body}");
    let mut rbac = RbacServiceClient::new(app.channel().await);
    let binding = || pb::CreateBindingRequest {
        r#type: pb::BindingType::User as i32,
        subject: "alice".into(),
        role: "Admin".into(),
        namespace: String::new(),
    };
    // The super admin, on a tenant not created yet and on a deleted one.
    for tenant in ["ghost", "gone"] {
        let status = rbac
            .create_binding(crate::app::call(binding(), Some(&app.admin), Some(tenant)))
            .await
            .expect_err("no such tenant");
        assert_eq!(status.code(), tonic::Code::NotFound, "{tenant}: {status:?}");
        let status = rbac
            .list_roles(crate::app::call(
                pb::ListRolesRequest {},
                Some(&app.admin),
                Some(tenant),
            ))
            .await
            .expect_err("no such tenant");
        assert_eq!(status.code(), tonic::Code::NotFound, "{tenant}: {status:?}");
        let (status, body) = app
            .post(
                &format!("/api/v1/{tenant}/bindings"),
                json!({"type": "USER", "subject": "alice", "role": "Admin"}),
            )
            .await;
        assert_eq!(status, 404, "{tenant}: {body}");
    }
    // alice, Admin of ta only, on tb: not found both ways.
    let status = rbac
        .list_roles(crate::app::call(
            pb::ListRolesRequest {},
            Some(&alice),
            Some("tb"),
        ))
        .await
        .expect_err("foreign tenant");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    let (status, body) = app
        .send(Method::GET, "/api/v1/tb/roles", Some(&alice), None)
        .await;
    assert_eq!(status, 404, "{body}");
    // Nothing was bound in the tenant that does not exist yet.
    app.create_tenant("ghost").await;
    let (status, body) = app.get("/api/v1/ghost/bindings").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 0, "{body}");
}

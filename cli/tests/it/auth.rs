//! Authentication and authorization end to end: no token, forged tokens,
//! cross-tenant access through the gateway and straight to the services,
//! Kestra's tenant-creation rules, namespace-limited bindings, revocation,
//! key rotation and login throttling.

use std::time::{Duration, Instant};

use aerie_proto::auth::internal::v1 as auth_ipb;
use aerie_proto::auth::v1 as auth_pb;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use aerie_proto::auth::v1::rbac_service_client::RbacServiceClient;
use aerie_proto::auth::v1::user_service_client::UserServiceClient;
use aerie_proto::tenant::v1 as tenant_pb;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use auth_ipb::auth_internal_service_client::AuthInternalServiceClient;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::app::{Mode, TestApp, call, login};

async fn channel(app: &TestApp) -> Channel {
    app.channel().await
}

#[tokio::test]
async fn every_route_and_method_without_a_token_is_unauthenticated() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    let routes = [
        (Method::GET, "/api/v1/tenants"),
        (Method::POST, "/api/v1/tenants"),
        (Method::GET, "/api/v1/tenants/acme"),
        (Method::PUT, "/api/v1/tenants/acme"),
        (Method::DELETE, "/api/v1/tenants/acme"),
        (Method::GET, "/api/v1/me"),
        (Method::POST, "/api/v1/auths/keys/rotate"),
        (Method::GET, "/api/v1/users"),
        (Method::POST, "/api/v1/users"),
        (Method::GET, "/api/v1/users/admin"),
        (Method::PUT, "/api/v1/users/admin"),
        (Method::DELETE, "/api/v1/users/admin"),
        (Method::GET, "/api/v1/acme/roles"),
        (Method::POST, "/api/v1/acme/roles"),
        (Method::DELETE, "/api/v1/acme/roles/x"),
        (Method::GET, "/api/v1/acme/bindings"),
        (Method::POST, "/api/v1/acme/bindings"),
        (Method::DELETE, "/api/v1/acme/bindings/x"),
        (Method::GET, "/api/v1/acme/groups"),
        (Method::POST, "/api/v1/acme/groups"),
        (Method::DELETE, "/api/v1/acme/groups/g"),
        (Method::POST, "/api/v1/acme/groups/g/members"),
        (Method::DELETE, "/api/v1/acme/groups/g/members/u"),
        (Method::GET, "/api/v1/acme/service-accounts"),
        (Method::POST, "/api/v1/acme/service-accounts"),
        (Method::DELETE, "/api/v1/acme/service-accounts/s"),
        (Method::GET, "/api/v1/acme/service-accounts/s/tokens"),
        (Method::POST, "/api/v1/acme/service-accounts/s/tokens"),
        (Method::DELETE, "/api/v1/acme/service-accounts/s/tokens/t"),
        (Method::GET, "/api/v1/acme/auditlogs/search"),
        (Method::GET, "/api/v1/roles"),
        (Method::GET, "/api/v1/bindings"),
    ];
    for (method, path) in routes {
        let (status, body) = app.send(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        let (status, _) = app
            .send(method.clone(), path, Some("not-a-token"), Some(json!({})))
            .await;
        assert_eq!(status, 401, "{method} {path} with garbage");
    }

    let channel = channel(&app).await;
    let mut tenants = TenantServiceClient::new(channel.clone());
    let mut auth = AuthServiceClient::new(channel.clone());
    let mut auth_internal = AuthInternalServiceClient::new(app.internal_channel());
    let mut users = UserServiceClient::new(channel.clone());
    let mut rbac = RbacServiceClient::new(channel);
    let codes = [
        tenants
            .create_tenant(tenant_pb::CreateTenantRequest::default())
            .await
            .err(),
        tenants
            .get_tenant(tenant_pb::GetTenantRequest::default())
            .await
            .err(),
        tenants
            .list_tenants(tenant_pb::ListTenantsRequest::default())
            .await
            .err(),
        tenants
            .update_tenant(tenant_pb::UpdateTenantRequest::default())
            .await
            .err(),
        tenants
            .delete_tenant(tenant_pb::DeleteTenantRequest::default())
            .await
            .err(),
        auth.rotate_signing_key(auth_pb::RotateSigningKeyRequest {})
            .await
            .err(),
        auth.get_me(auth_pb::GetMeRequest {}).await.err(),
        auth_internal
            .check_access(auth_ipb::CheckAccessRequest::default())
            .await
            .err(),
        auth_internal
            .grant_tenant_creator(auth_ipb::GrantTenantCreatorRequest::default())
            .await
            .err(),
        users
            .create_user(auth_pb::CreateUserRequest::default())
            .await
            .err(),
        users
            .get_user(auth_pb::GetUserRequest::default())
            .await
            .err(),
        users
            .list_users(auth_pb::ListUsersRequest::default())
            .await
            .err(),
        users
            .update_user(auth_pb::UpdateUserRequest::default())
            .await
            .err(),
        users
            .delete_user(auth_pb::DeleteUserRequest::default())
            .await
            .err(),
        rbac.create_role(auth_pb::CreateRoleRequest::default())
            .await
            .err(),
        rbac.list_roles(auth_pb::ListRolesRequest {}).await.err(),
        rbac.delete_role(auth_pb::DeleteRoleRequest::default())
            .await
            .err(),
        rbac.create_binding(auth_pb::CreateBindingRequest::default())
            .await
            .err(),
        rbac.list_bindings(auth_pb::ListBindingsRequest {})
            .await
            .err(),
        rbac.delete_binding(auth_pb::DeleteBindingRequest::default())
            .await
            .err(),
    ];
    for (index, status) in codes.into_iter().enumerate() {
        let status = status.unwrap_or_else(|| panic!("call #{index} was served without a token"));
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "call #{index}: {status:?}"
        );
    }
}

/// The signing key currently in use, read through auth-svc's own code.
async fn signing_key(app: &TestApp) -> (String, Vec<u8>) {
    let db = aerie_common::db::connect(&app.config.auth_database_url())
        .await
        .expect("auth database");
    let key = aerie_auth_svc::repo::active_keys(&db)
        .await
        .expect("keys")
        .into_iter()
        .next()
        .expect("an active key");
    (key.kid, key.private_der)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_all_rejected() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (kid, der) = signing_key(&app).await;
    let key = EncodingKey::from_ed_der(&der);
    let admin_id = {
        let (_, me) = app.get("/api/v1/users/admin").await;
        me["id"].as_str().expect("id").to_owned()
    };
    let good = json!({
        "iss": "aerie", "aud": "aerie-api", "sub": admin_id, "name": "admin",
        "iat": now(), "nbf": now(), "exp": now() + 600, "jti": "x"
    });
    aerie_common::auth::jwt_crypto::install();
    let sign = |claims: &Value, kid: Option<&str>| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    };
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    let without = |field: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().expect("object").remove(field);
        claims
    };

    // Sanity: a token signed exactly like ours is accepted, so each rejection
    // below is caused by its one defect.
    let valid = sign(&good, Some(&kid));
    let (status, body) = app
        .send(Method::GET, "/api/v1/me", Some(&valid), None)
        .await;
    assert_eq!(status, 200, "{body}");

    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&good)
    );
    let public_key = {
        let (_, jwks) = app
            .send(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        jwks["keys"][0]["x"].as_str().expect("x").to_owned()
    };
    // Signed by hand: Aerie's jsonwebtoken provider has no HMAC at all.
    let hs256_with_public_key = {
        let signing_input = format!(
            "{}.{}",
            b64(&json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
            b64(&good)
        );
        let mac = hmac_sha256(public_key.as_bytes(), signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac))
    };
    let tampered = {
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        parts[1] = b64(&with("name", json!("someone-else")));
        parts.join(".")
    };
    let user_token = app.user("doomed").await;
    let (status, _) = app.delete("/api/v1/users/doomed").await;
    assert_eq!(status, 204);

    let attacks = [
        ("alg none", alg_none),
        ("HS256 signed with the public key", hs256_with_public_key),
        (
            "expired",
            sign(&with("exp", json!(now() - 3600)), Some(&kid)),
        ),
        (
            "nbf in the future",
            sign(&with("nbf", json!(now() + 3600)), Some(&kid)),
        ),
        (
            "wrong aud",
            sign(&with("aud", json!("someone-else")), Some(&kid)),
        ),
        ("wrong iss", sign(&with("iss", json!("evil")), Some(&kid))),
        ("missing exp", sign(&without("exp"), Some(&kid))),
        (
            "exp as a string",
            sign(&with("exp", json!((now() + 600).to_string())), Some(&kid)),
        ),
        ("tampered payload", tampered),
        ("unknown kid", sign(&good, Some("no-such-key"))),
        ("no kid", sign(&good, None)),
        ("deleted user", user_token),
    ];
    let channel = channel(&app).await;
    for (name, token) in attacks {
        let (status, body) = app
            .send(Method::GET, "/api/v1/me", Some(&token), None)
            .await;
        assert_eq!(status, 401, "{name} through the gateway: {body}");
        let err = AuthServiceClient::new(channel.clone())
            .get_me(call(auth_pb::GetMeRequest {}, Some(&token), None))
            .await
            .expect_err(name);
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "{name} straight to auth-svc: {err:?}"
        );
        let err = TenantServiceClient::new(channel.clone())
            .list_tenants(call(
                tenant_pb::ListTenantsRequest::default(),
                Some(&token),
                None,
            ))
            .await
            .expect_err(name);
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "{name} straight to tenant-svc: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_user_of_tenant_a_reaches_nothing_of_tenant_b() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("tenant-a").await;
    app.create_tenant("tenant-b").await;
    let alice = app.user("alice").await;
    app.bind(Some("tenant-a"), "alice", "Admin", None).await;

    let (status, me) = app
        .send(Method::GET, "/api/v1/me", Some(&alice), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        me["tenants"],
        json!([{"id": "tenant-a", "name": "TENANT-A"}])
    );
    let (_, listed) = app
        .send(Method::GET, "/api/v1/tenants", Some(&alice), None)
        .await;
    assert_eq!(listed["total"], 1);
    let (status, _) = app
        .send(Method::GET, "/api/v1/tenant-a/roles", Some(&alice), None)
        .await;
    assert_eq!(status, 200, "alice works in her own tenant");

    let routes = [
        (Method::GET, "/api/v1/tenant-b/roles", None),
        (
            Method::POST,
            "/api/v1/tenant-b/roles",
            Some(json!({"name": "x", "permissions": ["FLOW:READ"]})),
        ),
        (Method::DELETE, "/api/v1/tenant-b/roles/x", None),
        (Method::GET, "/api/v1/tenant-b/bindings", None),
        (
            Method::POST,
            "/api/v1/tenant-b/bindings",
            Some(json!({"type": "USER", "subject": "alice", "role": "Admin"})),
        ),
        (Method::DELETE, "/api/v1/tenant-b/bindings/x", None),
        (Method::GET, "/api/v1/tenants/tenant-b", None),
        (
            Method::PUT,
            "/api/v1/tenants/tenant-b",
            Some(json!({"name": "Mine now"})),
        ),
        (Method::DELETE, "/api/v1/tenants/tenant-b", None),
        (Method::GET, "/api/v1/roles", None),
        (
            Method::POST,
            "/api/v1/bindings",
            Some(json!({"type": "USER", "subject": "alice", "role": "Admin"})),
        ),
    ];
    for (method, path, body) in routes {
        let (status, answer) = app.send(method.clone(), path, Some(&alice), body).await;
        assert!(
            matches!(status, 403 | 404),
            "{method} {path}: {status} {answer}"
        );
        assert!(
            answer.get("results").is_none() && answer.get("id").is_none(),
            "{method} {path} leaked {answer}"
        );
    }

    // The same calls straight to the services, with a spoofed tenant header.
    let channel = channel(&app).await;
    let mut rbac = RbacServiceClient::new(channel.clone());
    let spoof = Some("tenant-b");
    let denied = [
        rbac.list_roles(call(auth_pb::ListRolesRequest {}, Some(&alice), spoof))
            .await
            .err(),
        rbac.create_role(call(
            auth_pb::CreateRoleRequest {
                name: "x".into(),
                grants: vec![auth_pb::Grant {
                    permission: auth_pb::Permission::Flow as i32,
                    action: auth_pb::Action::Read as i32,
                }],
            },
            Some(&alice),
            spoof,
        ))
        .await
        .err(),
        rbac.list_bindings(call(auth_pb::ListBindingsRequest {}, Some(&alice), spoof))
            .await
            .err(),
        rbac.create_binding(call(
            auth_pb::CreateBindingRequest {
                r#type: auth_pb::BindingType::User as i32,
                subject: "alice".into(),
                role: "Admin".into(),
                namespace: String::new(),
            },
            Some(&alice),
            spoof,
        ))
        .await
        .err(),
        rbac.delete_binding(call(
            auth_pb::DeleteBindingRequest { id: "x".into() },
            Some(&alice),
            spoof,
        ))
        .await
        .err(),
    ];
    for (index, status) in denied.into_iter().enumerate() {
        let status = status.unwrap_or_else(|| panic!("spoofed call #{index} was served"));
        assert!(
            matches!(status.code(), Code::PermissionDenied | Code::NotFound),
            "spoofed call #{index}: {status:?}"
        );
    }
    let mut tenants = TenantServiceClient::new(channel.clone());
    let err = tenants
        .get_tenant(call(
            tenant_pb::GetTenantRequest {
                id: "tenant-b".into(),
            },
            Some(&alice),
            None,
        ))
        .await
        .expect_err("invisible tenant");
    assert_eq!(err.code(), Code::NotFound);
    let allowed = AuthInternalServiceClient::new(app.internal_channel())
        .check_access(call(
            auth_ipb::CheckAccessRequest {
                permission: auth_pb::Permission::Role as i32,
                action: auth_pb::Action::Read as i32,
                namespace: String::new(),
            },
            Some(&alice),
            spoof,
        ))
        .await
        .expect("check")
        .into_inner()
        .allowed;
    assert!(!allowed);
    let (_, bindings) = app.get("/api/v1/tenant-b/bindings").await;
    assert_eq!(bindings["total"], 0, "nothing was written in tenant B");
}

#[tokio::test]
async fn tenant_creators_become_admin_but_super_admins_do_not() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let bob = app.user("bob").await;
    let (status, _) = app
        .send(
            Method::POST,
            "/api/v1/tenants",
            Some(&bob),
            Some(json!({"id": "bobs", "name": "Bob's"})),
        )
        .await;
    assert_eq!(status, 403, "bob may not create tenants yet");
    let (status, body) = app
        .post(
            "/api/v1/roles",
            json!({"name": "tenant-creator", "permissions": ["TENANT:CREATE"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(None, "bob", "tenant-creator", None).await;
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/tenants",
            Some(&bob),
            Some(json!({"id": "bobs", "name": "Bob's"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, me) = app.send(Method::GET, "/api/v1/me", Some(&bob), None).await;
    assert_eq!(me["tenants"], json!([{"id": "bobs", "name": "Bob's"}]));
    // Creating tenants does not let bob claim an existing one by asking
    // auth-svc directly for the creator's grant.
    app.create_tenant("someone-elses").await;
    let err = AuthInternalServiceClient::new(app.internal_channel())
        .grant_tenant_creator(call(
            auth_ipb::GrantTenantCreatorRequest {
                tenant: "someone-elses".into(),
                admin_username: "bob".into(),
            },
            Some(&bob),
            None,
        ))
        .await
        .expect_err("reserved to tenant-svc");
    assert_eq!(err.code(), Code::PermissionDenied);
    let (status, _) = app
        .send(Method::GET, "/api/v1/someone-elses/roles", Some(&bob), None)
        .await;
    assert!(matches!(status, 403 | 404));
    let (status, bindings) = app
        .send(Method::GET, "/api/v1/bobs/bindings", Some(&bob), None)
        .await;
    assert_eq!(status, 200, "bob administers his tenant: {bindings}");
    assert_eq!(bindings["results"][0]["role"], "Admin");
    assert_eq!(bindings["results"][0]["subject"], "bob");

    // The super admin creates a tenant: no binding for anyone...
    app.create_tenant("plain").await;
    let (_, bindings) = app.get("/api/v1/plain/bindings").await;
    assert_eq!(bindings["total"], 0);
    // ...may administer it, but holds no data permission there.
    let channel = app.internal_channel();
    let check = |permission: &str, action: &str| {
        let mut auth = AuthInternalServiceClient::new(channel.clone());
        let request = call(
            auth_ipb::CheckAccessRequest {
                permission: auth_pb::Permission::from_short_name(permission).expect("known") as i32,
                action: auth_pb::Action::from_short_name(action).expect("known") as i32,
                namespace: String::new(),
            },
            Some(&app.admin),
            Some("plain"),
        );
        async move {
            auth.check_access(request)
                .await
                .expect("check")
                .into_inner()
                .allowed
        }
    };
    assert!(check("BINDING", "CREATE").await);
    assert!(
        !check("FLOW", "READ").await,
        "a super admin without a binding sees no flows"
    );
    assert!(!check("EXECUTION", "READ").await);

    // adminUsername binds the named user at once.
    let carol = app.user("carol").await;
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "carols", "name": "Carol's", "adminUsername": "carol"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, me) = app
        .send(Method::GET, "/api/v1/me", Some(&carol), None)
        .await;
    assert_eq!(me["tenants"][0]["id"], "carols");
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "ghosts", "name": "G", "adminUsername": "nobody"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app.get("/api/v1/tenants/ghosts").await;
    assert_eq!(status, 404, "a failed create leaves no tenant behind");
}

#[tokio::test]
async fn namespace_limited_binding_covers_children_only() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    let (status, _) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "reader", "permissions": ["FLOW:READ"]}),
        )
        .await;
    assert_eq!(status, 201);
    let dave = app.user("dave").await;
    let first = app.bind(Some("acme"), "dave", "reader", Some("prod")).await;
    let again = app.bind(Some("acme"), "dave", "reader", Some("prod")).await;
    assert_eq!(first, again, "an identical binding is not made twice");
    let tenant_wide = app.bind(Some("acme"), "dave", "reader", None).await;
    assert_ne!(
        first, tenant_wide,
        "a different scope is a different binding"
    );
    let (status, _) = app
        .delete(&format!("/api/v1/acme/bindings/{tenant_wide}"))
        .await;
    assert_eq!(status, 204);
    let channel = app.internal_channel();
    for (permission, namespace, expected) in [
        ("FLOW:READ", "prod", true),
        ("FLOW:READ", "prod.team", true),
        ("FLOW:READ", "prod.team.etl", true),
        ("FLOW:READ", "production", false),
        ("FLOW:READ", "dev", false),
        ("FLOW:READ", "", false),
        ("FLOW:UPDATE", "prod", false),
    ] {
        let (permission, action) = permission.split_once(':').expect("pair");
        let allowed = AuthInternalServiceClient::new(channel.clone())
            .check_access(call(
                auth_ipb::CheckAccessRequest {
                    permission: auth_pb::Permission::from_short_name(permission).expect("known")
                        as i32,
                    action: auth_pb::Action::from_short_name(action).expect("known") as i32,
                    namespace: namespace.into(),
                },
                Some(&dave),
                Some("acme"),
            ))
            .await
            .expect("check")
            .into_inner()
            .allowed;
        assert_eq!(allowed, expected, "{permission}:{action} on '{namespace}'");
    }
}

#[tokio::test]
async fn revoked_binding_and_deleted_user_stop_working_within_five_seconds() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    let erin = app.user("erin").await;
    let binding = app.bind(Some("acme"), "erin", "Admin", None).await;
    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/roles", Some(&erin), None)
        .await;
    assert_eq!(
        status, 200,
        "works, and every cache now holds erin's access"
    );

    let (status, _) = app
        .delete(&format!("/api/v1/acme/bindings/{binding}"))
        .await;
    assert_eq!(status, 204);
    refused_within_5s(
        &app,
        "/api/v1/acme/roles",
        &erin,
        |status| matches!(status, 403 | 404),
        "binding still honoured",
    )
    .await;

    let frank = app.user("frank").await;
    app.bind(Some("acme"), "frank", "Admin", None).await;
    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/roles", Some(&frank), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.delete("/api/v1/users/frank").await;
    assert_eq!(status, 204);
    refused_within_5s(
        &app,
        "/api/v1/acme/roles",
        &frank,
        |status| matches!(status, 401 | 403 | 404),
        "deleted user still served",
    )
    .await;
}

#[tokio::test]
async fn change_streams_serve_aerie_services_only() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    let erin = app.user("erin").await;
    app.bind(Some("acme"), "erin", "Admin", None).await;
    let channel = app.internal_channel();
    for (token, tenant) in [
        (None, None),
        (Some(app.admin.as_str()), None),
        (Some(erin.as_str()), Some("acme")),
    ] {
        let access = AuthInternalServiceClient::new(channel.clone())
            .watch_access_changes(call(auth_ipb::WatchAccessChangesRequest {}, token, tenant))
            .await
            .expect_err("access changes are for services");
        assert_eq!(access.code(), Code::PermissionDenied, "{access:?}");
        let tenants = aerie_proto::tenant::internal::v1::tenant_internal_service_client::TenantInternalServiceClient::new(channel.clone())
            .watch_tenant_changes(call(aerie_proto::tenant::internal::v1::WatchTenantChangesRequest {}, token, tenant))
            .await
            .expect_err("tenant changes are for services");
        assert_eq!(tenants.code(), Code::PermissionDenied, "{tenants:?}");
    }
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_and_sign_new_ones() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let old_kid = jsonwebtoken::decode_header(&app.admin)
        .expect("header")
        .kid
        .expect("kid");
    let (status, rotated) = app.post("/api/v1/auths/keys/rotate", json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, old_kid);
    let (_, jwks) = app
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    let (status, _) = app.get("/api/v1/me").await;
    assert_eq!(
        status, 200,
        "a token of the old key stays valid until it expires"
    );
    let fresh = login(&app.http, "admin", "admin-password").await;
    let fresh_kid = jsonwebtoken::decode_header(&fresh)
        .expect("header")
        .kid
        .expect("kid");
    assert_eq!(fresh_kid, new_kid);
    let (status, _) = app
        .send(Method::GET, "/api/v1/me", Some(&fresh), None)
        .await;
    assert_eq!(status, 200);

    let user = app.user("grace").await;
    let (status, _) = app
        .send(
            Method::POST,
            "/api/v1/auths/keys/rotate",
            Some(&user),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403, "only a super admin rotates keys");
}

/// A login through the gateway as if from `source` (behind a trusted proxy).
async fn login_from(
    app: &TestApp,
    source: &str,
    username: &str,
    password: &str,
) -> (u16, Option<u64>, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/auths/token"))
        .header("x-forwarded-for", source)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let (status, body) = crate::app::read(response).await;
    (status, retry_after, body)
}

/// A test app whose gateway believes `X-Forwarded-For` from loopback, as
/// behind an ingress.
async fn behind_a_proxy() -> TestApp {
    TestApp::start_with(Mode::SingleTenant, |config| {
        config.security.trusted_proxies = vec!["127.0.0.1".to_owned(), "::1".to_owned()];
    })
    .await
}

#[tokio::test]
async fn failed_logins_are_refused_past_a_limit_per_account_and_source() {
    let app = behind_a_proxy().await;
    app.user("henry").await;
    for _ in 0..10 {
        let (status, _, body) = login_from(&app, "198.51.100.1", "henry", "wrong-password").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["message"], "invalid username or password");
    }
    let (status, retry_after, body) =
        login_from(&app, "198.51.100.1", "henry", "wrong-password").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    // The guesser's address stays refused even with the right password;
    // henry, elsewhere, logs in.
    let (status, _, _) = login_from(&app, "198.51.100.1", "henry", "henry-password").await;
    assert_eq!(status, 429);
    let (status, _, body) = login_from(&app, "198.51.100.2", "henry", "henry-password").await;
    assert_eq!(status, 200, "{body}");
    // Unknown users look like wrong passwords, also past the username rule.
    for username in ["nobody", &"x".repeat(10_000)] {
        let (status, _, body) = login_from(&app, "198.51.100.3", username, "whatever-it-is").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["message"], "invalid username or password");
    }
}

#[tokio::test]
async fn parallel_guesses_against_one_account_are_cut_off_at_the_limit() {
    let app = behind_a_proxy().await;
    app.user("ivan").await;
    let guesses = (0..30).map(|i| {
        let app = &app;
        async move {
            login_from(app, "198.51.100.4", "ivan", &format!("guess-{i}"))
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 10,
        "{checked} of 30 parallel guesses were checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_the_proxy_is_trusted() {
    // No trusted proxy: every guess counts against the real peer, whatever
    // the caller writes into X-Forwarded-For.
    let app = TestApp::start(Mode::SingleTenant).await;
    app.user("judy").await;
    for i in 0..10 {
        let (status, _, _) =
            login_from(&app, &format!("203.0.113.{i}"), "judy", "wrong-password").await;
        assert_eq!(status, 401);
    }
    let (status, _, body) = login_from(&app, "203.0.113.200", "judy", "wrong-password").await;
    assert_eq!(status, 429, "a spoofed address escaped the limit: {body}");
    // Straight to auth-svc without the service credential: the same.
    let mut auth = AuthServiceClient::new(channel(&app).await);
    let mut request = tonic::Request::new(auth_pb::IssueTokenRequest {
        username: "judy".into(),
        password: "wrong-password".into(),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", "192.0.2.77".parse().expect("ascii"));
    let status = auth.issue_token(request).await.expect_err("limited");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn a_login_flood_is_shed_and_a_real_user_still_gets_in() {
    let app = behind_a_proxy().await;
    app.user("karl").await;
    let flood = (0..500).map(|i| {
        let app = &app;
        async move {
            login_from(
                app,
                &format!("203.0.113.{}", i % 50),
                &format!("random-{i}"),
                "guess",
            )
            .await
            .0
        }
    });
    let real = async {
        // A well-behaved client honours Retry-After.
        for _ in 0..10 {
            let (status, retry_after, body) =
                login_from(&app, "198.51.100.9", "karl", "karl-password").await;
            match status {
                200 => return body,
                429 => tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await,
                other => panic!("real login answered {other}: {body}"),
            }
        }
        panic!("the real user never got in");
    };
    let (statuses, token) = tokio::join!(futures::future::join_all(flood), real);
    assert!(token["access_token"].is_string(), "{token}");
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "nothing was shed");
}

#[tokio::test]
async fn user_management_is_for_super_admins() {
    let app = TestApp::start(Mode::SingleTenant).await;
    let ivan = app.user("ivan").await;
    let (status, _) = app
        .send(Method::GET, "/api/v1/users", Some(&ivan), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::POST,
            "/api/v1/users",
            Some(&ivan),
            Some(json!({"username": "x", "password": "long-enough"})),
        )
        .await;
    assert_eq!(status, 403);

    let (status, page) = app.get("/api/v1/users").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    assert!(
        page.to_string().find("password").is_none(),
        "no password or hash is ever returned"
    );
    let (status, _) = app
        .post(
            "/api/v1/users",
            json!({"username": "ivan", "password": "long-enough"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"username": "judy", "password": "short"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"username": "bad name", "password": "long-enough"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .put("/api/v1/users/ivan", json!({"password": "a-new-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    login(&app.http, "ivan", "a-new-password").await;
    let (status, _) = app.delete("/api/v1/users/admin").await;
    assert_eq!(status, 400, "a super admin cannot delete themself");
}

#[tokio::test]
async fn group_bindings_give_members_access() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let kim = app.user("kim").await;
    let (status, body) = app
        .post("/api/v1/acme/groups", json!({"name": "ops"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post("/api/v1/acme/groups", json!({"name": "ops"}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/acme/bindings",
            json!({"type": "GROUP", "subject": "ops", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/roles", Some(&kim), None)
        .await;
    assert!(matches!(status, 403 | 404), "not a member yet: {status}");

    let (status, group) = app
        .post(
            "/api/v1/acme/groups/ops/members",
            json!({"username": "kim"}),
        )
        .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["members"], json!(["kim"]));
    let (status, again) = app
        .post(
            "/api/v1/acme/groups/ops/members",
            json!({"username": "kim"}),
        )
        .await;
    assert_eq!(
        status, 200,
        "adding a member twice changes nothing: {again}"
    );
    assert_eq!(again["members"], json!(["kim"]));
    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/roles", Some(&kim), None)
        .await;
    assert_eq!(status, 200, "membership grants the group's role");
    let (_, me) = app.send(Method::GET, "/api/v1/me", Some(&kim), None).await;
    assert_eq!(me["tenants"][0]["id"], "acme");
    let (_, bindings) = app.get("/api/v1/acme/bindings").await;
    assert_eq!(bindings["results"][0]["type"], "GROUP");
    assert_eq!(bindings["results"][0]["subject"], "ops");
    let (status, _) = app
        .send(Method::GET, "/api/v1/other/roles", Some(&kim), None)
        .await;
    assert!(
        matches!(status, 403 | 404),
        "a group of acme grants nothing in other"
    );
    let (status, body) = app
        .post(
            "/api/v1/other/bindings",
            json!({"type": "GROUP", "subject": "ops", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 422, "groups are per tenant: {body}");

    let (status, _) = app.delete("/api/v1/acme/groups/ops/members/kim").await;
    assert_eq!(status, 200);
    refused_within_5s(
        &app,
        "/api/v1/acme/roles",
        &kim,
        |status| matches!(status, 403 | 404),
        "membership still honoured",
    )
    .await;
    let (status, _) = app.delete("/api/v1/acme/groups/ops").await;
    assert_eq!(status, 204);
    let (_, bindings) = app.get("/api/v1/acme/bindings").await;
    assert_eq!(
        bindings["total"], 0,
        "a deleted group's bindings go with it"
    );
}

/// Polls a tenant's audit log (as `token`) until `wanted` entries are there.
async fn audit_log(app: &TestApp, tenant_path: &str, token: &str, wanted: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = app
            .send(
                Method::GET,
                &format!("{tenant_path}/auditlogs/search?size=100"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let results = page["results"].as_array().cloned().unwrap_or_default();
        if results.len() >= wanted || Instant::now() > deadline {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has(entries: &[Value], resource_type: &str, action: &str, actor: &str) -> bool {
    entries
        .iter()
        .any(|e| e["resourceType"] == resource_type && e["action"] == action && e["actor"] == actor)
}

#[tokio::test]
async fn every_mutation_is_audited_in_its_own_tenant_only() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let lena = app.user("lena").await;
    let (status, _) = app
        .post(
            "/api/v1/tenants",
            json!({"id": "acme", "name": "Acme", "adminUsername": "lena"}),
        )
        .await;
    assert_eq!(status, 201);
    app.create_tenant("other").await;
    let (status, _) = app
        .put("/api/v1/tenants/acme", json!({"name": "Acme Corp"}))
        .await;
    assert_eq!(status, 200);
    let steps = [
        (
            Method::POST,
            "/api/v1/acme/roles",
            Some(json!({"name": "viewer", "permissions": ["FLOW:READ"]})),
        ),
        (
            Method::POST,
            "/api/v1/acme/groups",
            Some(json!({"name": "ops"})),
        ),
        (
            Method::POST,
            "/api/v1/acme/groups/ops/members",
            Some(json!({"username": "lena"})),
        ),
        (Method::DELETE, "/api/v1/acme/groups/ops/members/lena", None),
        (Method::DELETE, "/api/v1/acme/groups/ops", None),
    ];
    for (method, path, body) in steps {
        let (status, answer) = app.send(method.clone(), path, Some(&lena), body).await;
        assert!(status < 300, "{method} {path}: {answer}");
    }
    let (status, binding) = app
        .send(
            Method::POST,
            "/api/v1/acme/bindings",
            Some(&lena),
            Some(json!({"type": "USER", "subject": "lena", "role": "viewer", "namespace": "prod"})),
        )
        .await;
    assert_eq!(status, 201, "{binding}");
    let id = binding["id"].as_str().expect("id");
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/acme/bindings/{id}"),
            Some(&lena),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .send(
            Method::DELETE,
            "/api/v1/acme/roles/viewer",
            Some(&lena),
            None,
        )
        .await;
    assert_eq!(status, 204);

    let entries = audit_log(&app, "/api/v1/acme", &lena, 11).await;
    for (kind, action, actor) in [
        ("TENANT", "CREATE", "admin"),
        ("TENANT", "UPDATE", "admin"),
        ("BINDING", "CREATE", "admin"),
        ("ROLE", "CREATE", "lena"),
        ("GROUP", "CREATE", "lena"),
        ("GROUP", "UPDATE", "lena"),
        ("GROUP", "DELETE", "lena"),
        ("BINDING", "CREATE", "lena"),
        ("BINDING", "DELETE", "lena"),
        ("ROLE", "DELETE", "lena"),
    ] {
        assert!(
            has(&entries, kind, action, actor),
            "{kind} {action} by {actor} missing: {entries:#?}"
        );
    }
    assert!(entries.iter().all(|e| e["tenantId"] == "acme"));
    assert!(
        entries.iter().all(|e| !e.to_string().contains("password")),
        "no secret in any entry"
    );

    // Instance-level changes land in the default tenant's log.
    let (status, _) = app
        .put(
            "/api/v1/users/lena",
            json!({"password": "another-password"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.post("/api/v1/auths/keys/rotate", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/api/v1/bindings",
            json!({"type": "USER", "subject": "admin", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 201);
    let instance = audit_log(&app, "/api/v1", &app.admin, 5).await;
    for (kind, action) in [
        ("USER", "CREATE"),
        ("USER", "UPDATE"),
        ("SIGNING_KEY", "CREATE"),
    ] {
        assert!(
            has(&instance, kind, action, "admin"),
            "{kind} {action} missing: {instance:#?}"
        );
    }
    assert!(
        !instance.iter().any(|e| e["tenantId"] == "acme"),
        "acme's entries stay in acme"
    );

    // Another tenant sees none of acme's entries, through any door.
    let (status, _) = app
        .post(
            "/api/v1/other/bindings",
            json!({"type": "USER", "subject": "admin", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 201);
    let other = audit_log(&app, "/api/v1/other", &app.admin, 2).await;
    assert!(other.iter().all(|e| e["tenantId"] == "other"), "{other:#?}");
    assert!(!other.iter().any(|e| e["resourceId"] == "acme"));
    let mira = app.user("mira").await;
    app.bind(Some("other"), "mira", "Admin", None).await;
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/auditlogs/search",
            Some(&mira),
            None,
        )
        .await;
    assert_eq!(status, 404, "a tenant mira cannot use is not found");
    let err =
        aerie_proto::auth::v1::audit_service_client::AuditServiceClient::new(channel(&app).await)
            .search_audit_logs(call(
                auth_pb::SearchAuditLogsRequest::default(),
                Some(&mira),
                Some("acme"),
            ))
            .await
            .expect_err("spoofed tenant");
    assert_eq!(
        err.code(),
        Code::NotFound,
        "as through the gateway: {err:?}"
    );

    // Over gRPC an entry's details are a Struct, as REST shows them.
    let page =
        aerie_proto::auth::v1::audit_service_client::AuditServiceClient::new(channel(&app).await)
            .search_audit_logs(call(
                auth_pb::SearchAuditLogsRequest {
                    resource_type: "BINDING".into(),
                    ..Default::default()
                },
                Some(&app.admin),
                Some("other"),
            ))
            .await
            .expect("other's log")
            .into_inner();
    let created = page
        .results
        .iter()
        .find(|e| e.action == "CREATE")
        .unwrap_or_else(|| panic!("{page:?}"));
    let details = aerie_proto::wire::from_struct(created.details.clone());
    assert_eq!(details["role"], "Admin", "{details}");
    assert_eq!(details["type"], "USER", "{details}");
}

#[tokio::test]
async fn service_account_tokens_work_in_their_tenant_until_revoked_or_expired() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let (status, body) = app
        .post("/api/v1/acme/service-accounts", json!({"name": "ci-bot"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/acme/bindings",
            json!({"type": "SERVICE_ACCOUNT", "subject": "ci-bot", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, created) = app
        .post(
            "/api/v1/acme/service-accounts/ci-bot/tokens",
            json!({"name": "deploy"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token value").to_owned();
    assert!(token.starts_with("aerie_") && token.len() > 40);

    let (status, me) = app
        .send(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "ci-bot");
    assert_eq!(me["tenants"], json!([{"id": "acme", "name": "ACME"}]));
    let (status, _) = app
        .send(Method::GET, "/api/v1/acme/roles", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send(Method::GET, "/api/v1/other/roles", Some(&token), None)
        .await;
    assert_eq!(status, 404, "a service account acts in its own tenant only");
    let err = RbacServiceClient::new(channel(&app).await)
        .list_roles(call(
            auth_pb::ListRolesRequest {},
            Some(&token),
            Some("other"),
        ))
        .await
        .expect_err("spoofed tenant");
    assert_eq!(
        err.code(),
        Code::NotFound,
        "as through the gateway: {err:?}"
    );
    let (status, listed) = app.get("/api/v1/acme/service-accounts/ci-bot/tokens").await;
    assert_eq!(status, 200);
    assert!(
        !listed.to_string().contains(&token),
        "a token's value is shown once only"
    );
    assert_eq!(listed["results"][0]["prefix"], token[..12]);

    // Revoked: stops within 5 s everywhere.
    let id = created["id"].as_str().expect("id");
    let revoked_at = Instant::now();
    let (status, body) = app
        .delete(&format!("/api/v1/acme/service-accounts/ci-bot/tokens/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], true);
    refused_within_5s(
        &app,
        "/api/v1/acme/roles",
        &token,
        |status| status == 401,
        "revoked token still works",
    )
    .await;
    // Each process learns of the revocation on its own, so gRPC straight to
    // the service gets its own 5 s (from the revocation), not zero.
    let mut client = AuthServiceClient::new(channel(&app).await);
    loop {
        match client
            .get_me(call(auth_pb::GetMeRequest {}, Some(&token), None))
            .await
        {
            Err(err) => {
                assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
                break;
            }
            Ok(me) => assert!(
                revoked_at.elapsed() < Duration::from_secs(5),
                "revoked token still works over gRPC after 5 s: {me:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Expiring: works, then stops.
    let (_, short) = app
        .post(
            "/api/v1/acme/service-accounts/ci-bot/tokens",
            json!({"name": "short", "expiresIn": 1}),
        )
        .await;
    let short = short["token"].as_str().expect("token").to_owned();
    let (status, _) = app
        .send(Method::GET, "/api/v1/me", Some(&short), None)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let (status, _) = app
        .send(Method::GET, "/api/v1/me", Some(&short), None)
        .await;
    assert_eq!(status, 401, "an expired API token is refused");

    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/me",
            Some("aerie_made-up-token-value"),
            None,
        )
        .await;
    assert_eq!(status, 401);

    // Only a super admin makes super-admin service accounts.
    let nina = app.user("nina").await;
    app.bind(Some("acme"), "nina", "Admin", None).await;
    let (status, _) = app
        .send(
            Method::POST,
            "/api/v1/acme/service-accounts",
            Some(&nina),
            Some(json!({"name": "root-bot", "superAdmin": true})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.delete("/api/v1/acme/service-accounts/ci-bot").await;
    assert_eq!(status, 204);
    let (_, bindings) = app.get("/api/v1/acme/bindings").await;
    let results = bindings["results"].as_array().expect("results");
    assert!(
        results.iter().all(|b| b["type"] != "SERVICE_ACCOUNT"),
        "a deleted service account's bindings go with it: {bindings}"
    );
}

/// Polls `path` as `token` until `refused(status)`; fails after 5 s.
async fn refused_within_5s(
    app: &TestApp,
    path: &str,
    token: &str,
    refused: impl Fn(u16) -> bool,
    what: &str,
) {
    let since = Instant::now();
    loop {
        let (status, _) = app.send(Method::GET, path, Some(token), None).await;
        if refused(status) {
            return;
        }
        assert!(since.elapsed() < Duration::from_secs(5), "{what} after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `kid` in the header of `token`.
fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

#[tokio::test]
async fn a_configured_signing_key_signs_every_token() {
    use base64::engine::general_purpose::STANDARD;
    let seed = STANDARD.encode([7u8; 32]);
    let with_seed = |seed: String| {
        move |config: &mut aerie_common::config::Config| {
            config.security.jwt_signing_key = Some(seed);
        }
    };
    // Two installs with the same key (two clusters, or a restore) sign alike.
    let first = TestApp::start_with(Mode::MultiWithDefault, with_seed(seed.clone())).await;
    let second = TestApp::start_with(Mode::MultiWithDefault, with_seed(seed.clone())).await;
    assert_eq!(kid_of(&first.admin), kid_of(&second.admin));
    let (status, jwks) = first.get("/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids, [kid_of(&first.admin).as_str()]);

    let other = TestApp::start_with(
        Mode::MultiWithDefault,
        with_seed(STANDARD.encode([8u8; 32])),
    )
    .await;
    assert_ne!(kid_of(&other.admin), kid_of(&first.admin));
}

/// HMAC-SHA256 (RFC 2104), for forging an HS256 token in a test.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// A batch delivered by a service's outbox: stored in one commit, each
/// entry in its own tenant's log; a batch with a bad entry stores nothing;
/// a batch sent again (after a lost answer) stores nothing twice.
#[tokio::test]
async fn delivered_audit_batches_land_per_tenant_all_or_nothing_and_once() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.create_tenant("umbrella").await;
    let token = app.config.service_token().expect("service token");
    let entry = |id: &str, tenant: &str| auth_ipb::OutboxEntry {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        resource_type: "FLOW".to_owned(),
        resource_id: format!("batch.{id}"),
        action: "CREATE".to_owned(),
        actor: "tester".to_owned(),
        time: None,
        details_json: "{}".into(),
    };
    let record = |entries: Vec<auth_ipb::OutboxEntry>| {
        let token = token.clone();
        let app = &app;
        async move {
            let mut request = tonic::Request::new(auth_ipb::RecordAuditEntriesRequest { entries });
            request
                .metadata_mut()
                .insert("x-aerie-service-token", token.parse().expect("ascii"));
            AuthInternalServiceClient::new(app.internal_channel())
                .record_audit_entries(request)
                .await
        }
    };
    let in_log = |tenant: &'static str| {
        let app = &app;
        async move {
            let (status, page) = app
                .get(&format!(
                    "/api/v1/{tenant}/auditlogs/search?resourceType=FLOW&size=100"
                ))
                .await;
            assert_eq!(status, 200, "{page}");
            let mut ids: Vec<String> = page["results"]
                .as_array()
                .expect("results")
                .iter()
                .filter(|e| e["actor"] == "tester")
                .map(|e| e["resourceId"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    // The admin reads both logs only with a binding in each.
    app.bind(Some("acme"), "admin", "Admin", None).await;
    app.bind(Some("umbrella"), "admin", "Admin", None).await;

    let bad = record(vec![entry("b1", "acme"), entry("b2", "Not A Tenant")])
        .await
        .expect_err("a bad tenant refuses the batch");
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert!(
        in_log("acme").await.is_empty(),
        "nothing of a refused batch is stored"
    );

    let batch = vec![
        entry("a1", "acme"),
        entry("u1", "umbrella"),
        entry("a2", "acme"),
    ];
    let stored = record(batch.clone())
        .await
        .expect("batch")
        .into_inner()
        .stored;
    assert_eq!(stored, 3);
    assert_eq!(in_log("acme").await, ["batch.a1", "batch.a2"]);
    assert_eq!(in_log("umbrella").await, ["batch.u1"]);

    let again = record(batch).await.expect("resend").into_inner().stored;
    assert_eq!(again, 0, "entries are stored once by id");
    assert_eq!(in_log("acme").await.len(), 2);
}

#[tokio::test]
async fn logout_ends_that_token_everywhere_and_only_that_token() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    let first = app.user("lou").await;
    app.bind(Some("acme"), "lou", "Admin", None).await;
    let second = crate::app::login(&app.http, "lou", "lou-password").await;
    // Both tokens are in use (and cached) before one is ended.
    for token in [&first, &second] {
        let (status, _) = app
            .send(Method::GET, "/api/v1/acme/flows/search", Some(token), None)
            .await;
        assert_eq!(status, 200);
    }
    let ended_at = Instant::now();
    let (status, body) = app
        .send(Method::POST, "/api/v1/auths/logout", Some(&first), None)
        .await;
    assert_eq!(status, 204, "{body}");
    refused_within_5s(
        &app,
        "/api/v1/acme/flows/search",
        &first,
        |status| status == 401,
        "a token ended by logout still works",
    )
    .await;
    // Straight to the services too, within 5 s of the logout.
    let mut client = AuthServiceClient::new(channel(&app).await);
    loop {
        match client
            .get_me(call(auth_pb::GetMeRequest {}, Some(&first), None))
            .await
        {
            Err(err) => {
                assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
                break;
            }
            Ok(_) => assert!(
                ended_at.elapsed() < Duration::from_secs(5),
                "a token ended by logout still works over gRPC after 5 s"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The user's other token, and new ones, keep working.
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/search",
            Some(&second),
            None,
        )
        .await;
    assert_eq!(status, 200, "only the token logged out is ended");
    let third = crate::app::login(&app.http, "lou", "lou-password").await;
    let (status, _) = app
        .send(Method::GET, "/api/v1/me", Some(&third), None)
        .await;
    assert_eq!(status, 200);
    // Ending an ended token is 401; an API token is not ended this way.
    let (status, _) = app
        .send(Method::POST, "/api/v1/auths/logout", Some(&first), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post("/api/v1/acme/service-accounts", json!({"name": "bot"}))
        .await;
    assert_eq!(status, 201);
    let (_, minted) = app
        .post(
            "/api/v1/acme/service-accounts/bot/tokens",
            json!({"name": "t"}),
        )
        .await;
    let api_token = minted["token"].as_str().expect("token").to_owned();
    let (status, body) = app
        .send(Method::POST, "/api/v1/auths/logout", Some(&api_token), None)
        .await;
    assert_eq!(status, 400, "{body}");
}

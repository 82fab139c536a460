//! Flows, secrets, KV and triggers end to end: REST through the gateway and
//! gRPC straight to flow-svc, each tenant seeing only its own.

use std::time::{Duration, Instant};

use aerie_proto::flow::internal::v1::flow_internal_service_client::FlowInternalServiceClient;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::flow_service_client::FlowServiceClient;
use aerie_proto::flow::v1::kv_service_client::KvServiceClient;
use aerie_proto::flow::v1::secret_service_client::SecretServiceClient;
use aerie_proto::flow::v1::trigger_service_client::TriggerServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

use crate::app::{Mode, TestApp, call};

const HELLO: &str = r#"id: hello
namespace: company.team
labels:
  env: prod
inputs:
  - id: user
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.user }} from {{ flow.namespace }}"
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: acme-webhook-key
"#;

/// A minimal valid flow.
fn flow(namespace: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

/// Creates a tenant whose Admin role the super admin holds.
async fn tenant(app: &TestApp, id: &str) {
    let (status, body) = app
        .post(
            "/api/v1/tenants",
            json!({"id": id, "name": id, "adminUsername": "admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn create(app: &TestApp, tenant: &str, source: &str) -> Value {
    let (status, body) = app
        .yaml(
            Method::POST,
            &format!("/api/v1/{tenant}/flows"),
            &app.admin,
            source,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_same_flow_id_lives_in_two_tenants_without_meeting() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let globex_source = HELLO.replace("Hello", "Bonjour");
    let acme = create(&app, "acme", HELLO).await;
    let globex = create(&app, "globex", &globex_source).await;
    assert_eq!(
        (acme["revision"].clone(), globex["revision"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(acme["tenantId"], "acme");
    assert_eq!(globex["tenantId"], "globex");

    for (t, source) in [("acme", HELLO), ("globex", globex_source.as_str())] {
        let (status, body) = app
            .get(&format!("/api/v1/{t}/flows/company.team/hello"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["source"], source,
            "{t} reads its own source, byte for byte"
        );
        assert_eq!(body["labels"], json!([{"key": "env", "value": "prod"}]));
        let (_, page) = app.get(&format!("/api/v1/{t}/flows/search")).await;
        assert_eq!(page["total"], 1, "{page}");
        let (_, namespaces) = app
            .get(&format!("/api/v1/{t}/flows/distinct-namespaces"))
            .await;
        assert_eq!(namespaces, json!(["company.team"]));
        let (_, triggers) = app.get(&format!("/api/v1/{t}/triggers/search")).await;
        assert_eq!(triggers["total"], 2, "{triggers}");
    }
    // Deleting in one tenant leaves the other's untouched.
    let (status, _) = app.delete("/api/v1/acme/flows/company.team/hello").await;
    assert_eq!(status, 204);
    let (status, _) = app.get("/api/v1/acme/flows/company.team/hello").await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/api/v1/globex/flows/company.team/hello").await;
    assert_eq!(status, 200);
    assert_eq!(body["source"], globex_source);
    let (_, triggers) = app.get("/api/v1/acme/triggers/search").await;
    assert_eq!(
        triggers["total"], 0,
        "a deleted flow's triggers go: {triggers}"
    );

    // The default tenant is a tenant of its own.
    let (status, _) = app.get("/api/v1/flows/company.team/hello").await;
    assert!(matches!(status, 403 | 404), "{status}");
}

#[tokio::test]
async fn each_change_is_a_revision_and_history_survives_delete() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let path = "/api/v1/acme/flows/company.team/hello";
    create(&app, "acme", HELLO).await;
    let (status, body) = app
        .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, HELLO)
        .await;
    assert_eq!(status, 409, "{body}");

    let second = HELLO.replace("Hello", "Hi");
    let (status, body) = app.yaml(Method::PUT, path, &app.admin, &second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], 2);
    // The same source again is no new revision.
    let (status, body) = app.yaml(Method::PUT, path, &app.admin, &second).await;
    assert_eq!((status, body["revision"].clone()), (200, json!(2)));

    let (_, first) = app.get(&format!("{path}?revision=1")).await;
    assert_eq!(
        (first["revision"].clone(), first["source"].clone()),
        (json!(1), json!(HELLO))
    );
    let (status, _) = app.get(&format!("{path}?revision=9")).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&format!("{path}?revision=0")).await;
    assert_eq!(status, 400);

    // A source naming another flow cannot replace this one.
    let renamed = second.replace("id: hello", "id: other");
    let (status, body) = app.yaml(Method::PUT, path, &app.admin, &renamed).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot change"),
        "{body}"
    );
    let (status, _) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/nope",
            &app.admin,
            &flow("company.team", "nope", "x"),
        )
        .await;
    assert_eq!(status, 404);

    let (status, _) = app.delete(path).await;
    assert_eq!(status, 204);
    let (status, _) = app.delete(path).await;
    assert_eq!(status, 404);
    let (status, revisions) = app.get(&format!("{path}/revisions")).await;
    assert_eq!(status, 200);
    let numbers: Vec<_> = revisions
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["revision"].clone())
        .collect();
    assert_eq!(numbers, vec![json!(1), json!(2)]);
    assert!(revisions[0]["deleted"].as_bool().expect("flag"));

    // Created again, the flow continues its history.
    let third = create(&app, "acme", HELLO).await;
    assert_eq!(third["revision"], 3);
    let (_, revisions) = app.get(&format!("{path}/revisions")).await;
    assert_eq!(revisions.as_array().map(Vec::len), Some(3));
    let (_, listed) = app.get("/api/v1/acme/flows/company.team").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[tokio::test]
async fn each_validation_class_answers_422_with_where_and_why() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let cases: Vec<(String, &str)> = vec![
        ("id: [hello\nnamespace: }\n".to_owned(), "invalid YAML"),
        (
            HELLO.replace("core.log.Log", "core.log.Nope"),
            "tasks[0].type (line 11, column 11): unknown task type",
        ),
        (
            HELLO.replace("id: out", "id: greet"),
            "tasks[1].id (line 13, column 9): task id 'greet' is already used by tasks[0]",
        ),
        (
            HELLO.replace("    format: \"{{ execution.id }}\"\n", "    formatt: x\n"),
            "unknown property 'formatt'",
        ),
        (
            HELLO.replace(
                "    message: \"Hello {{ inputs.user }} from {{ flow.namespace }}\"\n",
                "",
            ),
            "tasks[0].message (line 10, column 5): 'message' is required",
        ),
        (
            HELLO.replace("0 9 * * *", "0 25 * * *"),
            "triggers[0].cron (line 19, column 11): invalid cron",
        ),
        (
            HELLO.replace(
                "cron: \"0 9 * * *\"",
                "cron: \"0 9 * * *\"\n    timezone: Mars/Olympus",
            ),
            "unknown time zone",
        ),
        (
            HELLO.replace("{{ inputs.user }}", "{{ inputs.user "),
            "tasks[0].message (line 12, column 14): invalid template",
        ),
        (
            HELLO.replace("company.team", "Company"),
            "namespace (line 2, column 12)",
        ),
        (
            HELLO.replace("id: hello", "id: -hello"),
            "flow id '-hello' must match",
        ),
        (
            HELLO.replace("type: STRING", "type: STRIN"),
            "unknown input type 'STRIN'",
        ),
        (
            HELLO.replace("trigger.Webhook", "trigger.Hook"),
            "unknown trigger type",
        ),
        ("id: a\nnamespace: b\n".to_owned(), "a flow needs tasks"),
        ("id: a\nid: b\n".to_owned(), "duplicate"),
    ];
    for (source, expected) in &cases {
        let (status, body) = app
            .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, source)
            .await;
        assert_eq!(status, 422, "{expected}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "expected '{expected}' in: {message}"
        );
    }
    // Nothing was stored along the way.
    let (_, page) = app.get("/api/v1/acme/flows/search").await;
    assert_eq!(page["total"], 0, "{page}");

    // validate answers the same findings, structured, without saving.
    let broken = HELLO
        .replace("core.log.Log", "core.log.Nope")
        .replace("0 9 * * *", "bad");
    let (status, report) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows/validate",
            &app.admin,
            &broken,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    // One result per document, as Kestra answers.
    let report = &report[0];
    assert_eq!(report["valid"], false);
    assert_eq!(report["id"], "hello");
    assert!(
        report["constraints"]
            .as_str()
            .unwrap()
            .contains("core.log.Nope")
    );
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{report}");
    assert_eq!(findings[0]["path"], "tasks[0].type");
    assert_eq!(
        (findings[0]["line"].clone(), findings[0]["column"].clone()),
        (json!(11), json!(11))
    );
    let (_, report) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows/validate",
            &app.admin,
            HELLO,
        )
        .await;
    assert_eq!(report[0]["valid"], true, "{report}");
    assert_eq!(report[0]["constraints"], Value::Null, "{report}");
    let (status, _) = app.get("/api/v1/acme/flows/company.team/hello").await;
    assert_eq!(status, 404, "validate does not save");

    // Wrong media type, non-UTF-8 and oversized sources.
    let response = app
        .client
        .post(app.url("/api/v1/acme/flows"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body(HELLO)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let response = app
        .client
        .post(app.url("/api/v1/acme/flows"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/x-yaml")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let huge = format!("{HELLO}description: \"{}\"\n", "x".repeat(1024 * 1024));
    let (status, body) = app
        .yaml(Method::POST, "/api/v1/acme/flows", &app.admin, &huge)
        .await;
    assert_eq!(status, 422, "{body}");
    // Invalid ids in paths.
    let (status, _) = app.get("/api/v1/acme/flows/Company/hello").await;
    assert_eq!(status, 422);
    let (status, _) = app.get("/api/v1/acme/flows/company/-x").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn search_filters_by_text_namespace_labels_sort_and_page() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    for (namespace, id, env) in [
        ("prod", "alpha", "prod"),
        ("prod.team", "beta", "prod"),
        ("production", "gamma", "dev"),
        ("dev", "delta", "dev"),
    ] {
        let source = format!(
            "{}labels:\n  env: {env}\ndescription: The {id} pipeline\n",
            flow(namespace, id, "hi")
        );
        create(&app, "acme", &source).await;
    }
    let ids = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (_, page) = app.get("/api/v1/acme/flows/search?namespace=prod").await;
    assert_eq!(
        ids(&page),
        ["alpha", "beta"],
        "prod covers prod.team, not production"
    );
    let (_, page) = app.get("/api/v1/acme/flows/search?q=GAMMA").await;
    assert_eq!(ids(&page), ["gamma"]);
    let (_, page) = app
        .get("/api/v1/acme/flows/search?q=pipeline&labels=env:dev&sort=id:desc")
        .await;
    assert_eq!(ids(&page), ["gamma", "delta"]);
    assert_eq!(page["total"], 2);
    let (_, page) = app
        .get("/api/v1/acme/flows/search?labels=env:prod&labels=env:dev")
        .await;
    assert_eq!(page["total"], 0);
    let (_, page) = app
        .get("/api/v1/acme/flows/search?size=3&page=2&sort=id")
        .await;
    assert_eq!(
        (ids(&page), page["total"].clone()),
        (vec!["gamma".to_owned()], json!(4))
    );
    let (_, page) = app.get("/api/v1/acme/flows/search?q=%25").await;
    assert_eq!(page["total"], 0, "% is literal text");
    let (status, _) = app.get("/api/v1/acme/flows/search?sort=source").await;
    assert_eq!(status, 422);
    let (status, _) = app.get("/api/v1/acme/flows/search?labels=nocolon").await;
    assert_eq!(status, 422);
    let (status, _) = app.get("/api/v1/acme/flows/search?colour=blue").await;
    assert_eq!(status, 400);
    let (_, namespaces) = app
        .get("/api/v1/acme/flows/distinct-namespaces?q=prod")
        .await;
    assert_eq!(namespaces, json!(["prod", "prod.team", "production"]));

    // A binding limited to prod sees prod and its children only.
    app.user("carol").await;
    app.bind(Some("acme"), "carol", "Admin", Some("prod")).await;
    let carol = crate::app::login(&app.http, "carol", "carol-password").await;
    let (status, page) = app
        .send(Method::GET, "/api/v1/acme/flows/search", Some(&carol), None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), ["alpha", "beta"]);
    let (_, namespaces) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/distinct-namespaces",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(namespaces, json!(["prod", "prod.team"]));
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/production/gamma",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/prod.team/beta",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tenant_b_cannot_reach_tenant_a_flows_secrets_kv_or_triggers() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create(&app, "acme", HELLO).await;
    let (status, _) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/DB_PASSWORD",
            json!({"value": "acme-secret-value"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send(
            Method::PUT,
            "/api/v1/acme/namespaces/company/kv/limit",
            Some(&app.admin),
            Some(json!(42)),
        )
        .await;
    assert_eq!(status, 200);
    app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    let bob = crate::app::login(&app.http, "bob", "bob-password").await;

    let flow_routes = [
        (Method::GET, "/api/v1/acme/flows/company.team/hello"),
        (
            Method::GET,
            "/api/v1/acme/flows/company.team/hello?revision=1",
        ),
        (
            Method::GET,
            "/api/v1/acme/flows/company.team/hello/revisions",
        ),
        (Method::GET, "/api/v1/acme/flows/company.team"),
        (Method::GET, "/api/v1/acme/flows/search"),
        (Method::GET, "/api/v1/acme/flows/distinct-namespaces"),
        (Method::DELETE, "/api/v1/acme/flows/company.team/hello"),
        (Method::GET, "/api/v1/acme/triggers/search"),
        (Method::GET, "/api/v1/acme/namespaces/company/secrets"),
        (
            Method::DELETE,
            "/api/v1/acme/namespaces/company/secrets/DB_PASSWORD",
        ),
        (Method::GET, "/api/v1/acme/namespaces/company/kv"),
        (Method::GET, "/api/v1/acme/namespaces/company/kv/limit"),
        (Method::DELETE, "/api/v1/acme/namespaces/company/kv/limit"),
    ];
    for (method, path) in flow_routes {
        let (status, body) = app.send(method.clone(), path, Some(&bob), None).await;
        assert!(
            matches!(status, 403 | 404),
            "{method} {path}: {status} {body}"
        );
        assert_eq!(
            body.as_object().map(|o| o.keys().collect::<Vec<_>>()),
            Some(vec![&"message".to_owned()]),
            "{method} {path} leaked {body}"
        );
    }
    for (method, path) in [
        (Method::PUT, "/api/v1/acme/flows/company.team/hello"),
        (Method::POST, "/api/v1/acme/flows"),
        (Method::POST, "/api/v1/acme/flows/validate"),
    ] {
        let (status, body) = app.yaml(method.clone(), path, &bob, HELLO).await;
        assert!(
            matches!(status, 403 | 404),
            "{method} {path}: {status} {body}"
        );
    }
    let (status, _) = app
        .send(
            Method::PUT,
            "/api/v1/acme/namespaces/company/secrets/DB_PASSWORD",
            Some(&bob),
            Some(json!({"value": "bob"})),
        )
        .await;
    assert!(matches!(status, 403 | 404));
    let (status, _) = app
        .send(
            Method::PUT,
            "/api/v1/acme/namespaces/company/kv/limit",
            Some(&bob),
            Some(json!(1)),
        )
        .await;
    assert!(matches!(status, 403 | 404));

    // In his own tenant, the same addresses hold nothing.
    for path in [
        "/api/v1/globex/flows/company.team/hello",
        "/api/v1/globex/namespaces/company/kv/limit",
    ] {
        let (status, _) = app.send(Method::GET, path, Some(&bob), None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, secrets) = app
        .send(
            Method::GET,
            "/api/v1/globex/namespaces/company/secrets",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(secrets["total"], 0);

    // Straight to flow-svc with a spoofed x-aerie-tenant: the same refusals.
    let channel = app.channel().await;
    let spoof = Some("acme");
    let token = Some(bob.as_str());
    let mut flows = FlowServiceClient::new(channel.clone());
    let mut secrets = SecretServiceClient::new(channel.clone());
    let mut kv = KvServiceClient::new(channel.clone());
    let mut triggers = TriggerServiceClient::new(channel.clone());
    let key = || ("company.team".to_owned(), "hello".to_owned());
    let refused: Vec<(&str, Option<tonic::Status>)> = vec![
        (
            "GetFlow",
            flows
                .get_flow(call(
                    pb::GetFlowRequest {
                        namespace: key().0,
                        id: key().1,
                        revision: 0,
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "ListFlows",
            flows
                .list_flows(call(
                    pb::ListFlowsRequest { namespace: key().0 },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "SearchFlows",
            flows
                .search_flows(call(pb::SearchFlowsRequest::default(), token, spoof))
                .await
                .err(),
        ),
        (
            "ListNamespaces",
            flows
                .list_namespaces(call(pb::ListNamespacesRequest::default(), token, spoof))
                .await
                .err(),
        ),
        (
            "ListFlowRevisions",
            flows
                .list_flow_revisions(call(
                    pb::ListFlowRevisionsRequest {
                        namespace: key().0,
                        id: key().1,
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "UpdateFlow",
            flows
                .update_flow(call(
                    pb::UpdateFlowRequest {
                        namespace: key().0,
                        id: key().1,
                        source: HELLO.replace("Hello", "Pwned"),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "DeleteFlow",
            flows
                .delete_flow(call(
                    pb::DeleteFlowRequest {
                        namespace: key().0,
                        id: key().1,
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "CreateFlow",
            flows
                .create_flow(call(
                    pb::CreateFlowRequest {
                        source: flow("company.team", "planted", "x"),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "ValidateFlow",
            flows
                .validate_flow(call(
                    pb::ValidateFlowRequest {
                        source: HELLO.to_owned(),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "ListSecrets",
            secrets
                .list_secrets(call(
                    pb::ListSecretsRequest {
                        namespace: "company".into(),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "PutSecret",
            secrets
                .put_secret(call(
                    pb::PutSecretRequest {
                        namespace: "company".into(),
                        key: "DB_PASSWORD".into(),
                        value: "x".into(),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "DeleteSecret",
            secrets
                .delete_secret(call(
                    pb::DeleteSecretRequest {
                        namespace: "company".into(),
                        key: "DB_PASSWORD".into(),
                    },
                    token,
                    spoof,
                ))
                .await
                .err(),
        ),
        (
            "GetKv",
            kv.get_kv(call(
                pb::GetKvRequest {
                    namespace: "company".into(),
                    key: "limit".into(),
                },
                token,
                spoof,
            ))
            .await
            .err(),
        ),
        (
            "ListKv",
            kv.list_kv(call(
                pb::ListKvRequest {
                    namespace: "company".into(),
                },
                token,
                spoof,
            ))
            .await
            .err(),
        ),
        (
            "PutKv",
            kv.put_kv(call(
                pb::PutKvRequest {
                    namespace: "company".into(),
                    key: "limit".into(),
                    value_json: "1".into(),
                    ..Default::default()
                },
                token,
                spoof,
            ))
            .await
            .err(),
        ),
        (
            "DeleteKv",
            kv.delete_kv(call(
                pb::DeleteKvRequest {
                    namespace: "company".into(),
                    key: "limit".into(),
                },
                token,
                spoof,
            ))
            .await
            .err(),
        ),
        (
            "SearchTriggers",
            triggers
                .search_triggers(call(pb::SearchTriggersRequest::default(), token, spoof))
                .await
                .err(),
        ),
    ];
    for (method, status) in refused {
        let status = status.unwrap_or_else(|| panic!("spoofed {method} was served"));
        assert!(
            matches!(status.code(), Code::PermissionDenied | Code::NotFound),
            "{method}: {status:?}"
        );
    }
    // Internal calls need the service credential, whoever the caller is.
    let mut internal = FlowInternalServiceClient::new(app.internal_channel());
    let err = internal
        .resolve_secret(call(
            aerie_proto::flow::internal::v1::ResolveSecretRequest {
                namespace: "company".into(),
                key: "DB_PASSWORD".into(),
                flow_namespace: "company".into(),
            },
            Some(&app.admin),
            spoof,
        ))
        .await
        .expect_err("no service token");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = internal
        .get_flow_triggers(call(
            aerie_proto::flow::internal::v1::GetFlowTriggersRequest {
                namespace: key().0,
                flow_id: key().1,
            },
            token,
            spoof,
        ))
        .await
        .expect_err("no service token");
    assert_eq!(err.code(), Code::PermissionDenied);

    // And nothing changed in acme.
    let (_, acme) = app.get("/api/v1/acme/flows/company.team/hello").await;
    assert_eq!(
        (acme["revision"].clone(), acme["source"].clone()),
        (json!(1), json!(HELLO))
    );
    let (_, page) = app.get("/api/v1/acme/flows/search").await;
    assert_eq!(page["total"], 1);
    let (status, _) = app.get("/api/v1/acme/namespaces/company/kv/limit").await;
    assert_eq!(status, 200);
}

/// A request carrying the internal service credential and a tenant.
fn internal_call<T>(app: &TestApp, message: T, tenant: &str) -> tonic::Request<T> {
    let token =
        aerie_common::audit::service_token(None, &app.config.data_dir).expect("service token");
    let mut request = call(message, None, Some(tenant));
    request.metadata_mut().insert(
        aerie_common::audit::SERVICE_TOKEN_HEADER,
        token.parse().expect("ascii"),
    );
    request
}

#[tokio::test]
async fn secrets_are_encrypted_resolved_by_namespace_and_never_returned() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let value = format!("s3cr3t-{}", uuid::Uuid::new_v4().simple());
    let mut bodies = Vec::new();
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/DB_PASSWORD",
            json!({"value": value}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    bodies.push(body);
    let (_, body) = app
        .put(
            "/api/v1/acme/namespaces/company.team/secrets/API_KEY",
            json!({"value": "team-key"}),
        )
        .await;
    bodies.push(body);
    let (status, listed) = app.get("/api/v1/acme/namespaces/company/secrets").await;
    assert_eq!(status, 200);
    assert_eq!(listed["results"][0]["key"], "DB_PASSWORD");
    bodies.push(listed);
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/bad key",
            json!({"value": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/EMPTY",
            json!({"value": ""}),
        )
        .await;
    assert_eq!(status, 422);

    // Aerie's own services resolve it, nearest namespace first.
    let mut internal = FlowInternalServiceClient::new(app.internal_channel());
    let resolved = internal
        .resolve_secret(internal_call(
            &app,
            aerie_proto::flow::internal::v1::ResolveSecretRequest {
                namespace: "company.team.deep".into(),
                key: "DB_PASSWORD".into(),
                flow_namespace: "company.team.deep".into(),
            },
            "acme",
        ))
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (resolved.value.as_str(), resolved.namespace.as_str()),
        (value.as_str(), "company")
    );
    let err = internal
        .resolve_secret(internal_call(
            &app,
            aerie_proto::flow::internal::v1::ResolveSecretRequest {
                namespace: "company".into(),
                key: "API_KEY".into(),
                flow_namespace: "company".into(),
            },
            "acme",
        ))
        .await
        .expect_err("children do not leak upwards");
    assert_eq!(err.code(), Code::NotFound);
    let err = internal
        .resolve_secret(internal_call(
            &app,
            aerie_proto::flow::internal::v1::ResolveSecretRequest {
                namespace: "company".into(),
                key: "DB_PASSWORD".into(),
                flow_namespace: "company".into(),
            },
            "globex",
        ))
        .await
        .expect_err("another tenant's secret");
    assert_eq!(err.code(), Code::NotFound);

    // The audit log names the key, never the value.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = app
            .get("/api/v1/acme/auditlogs/search?resourceType=SECRET")
            .await;
        if log["total"].as_u64() >= Some(2) {
            bodies.push(log);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "secret audit entries never arrived: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for body in &bodies {
        assert!(
            !body.to_string().contains(&value),
            "secret value leaked in {body}"
        );
    }
    // At rest it is ciphertext.
    if app.flow_db.backend == "sqlite" {
        let path = app
            .flow_db
            .url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .expect("path")
            .to_owned();
        for file in [path.clone(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                    "plaintext in {file}"
                );
            }
        }
    } else {
        use sea_orm::{ConnectionTrait, Database};
        let db = Database::connect(app.flow_db.url.as_str())
            .await
            .expect("connect");
        let txn = sea_orm::TransactionTrait::begin(&db).await.expect("begin");
        txn.execute_unprepared("SELECT set_config('aerie.tenant', 'acme', true)")
            .await
            .expect("set tenant");
        let row = txn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT encode(sealed, 'escape') AS v FROM secrets WHERE key = 'DB_PASSWORD'",
            ))
            .await
            .expect("query")
            .expect("row");
        let stored: String = row.try_get("", "v").expect("column");
        assert!(!stored.contains(&value), "plaintext at rest");
    }

    let (status, _) = app
        .delete("/api/v1/acme/namespaces/company/secrets/DB_PASSWORD")
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .delete("/api/v1/acme/namespaces/company/secrets/DB_PASSWORD")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn kv_values_are_typed_and_expire() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let put = |key: &str, body: &str, headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .put(app.url(&format!("/api/v1/acme/namespaces/company/kv/{key}")))
            .bearer_auth(&app.admin)
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { crate::app::read(request.send().await.expect("send")).await }
    };
    for (key, body, kind, value) in [
        ("count", "42", "NUMBER", json!(42)),
        ("flag", "true", "BOOLEAN", json!(true)),
        ("name", "plain words", "STRING", json!("plain words")),
        ("quoted", "\"quoted\"", "STRING", json!("quoted")),
        (
            "when",
            "\"2026-11-28T10:00:00Z\"",
            "DATETIME",
            json!("2026-11-28T10:00:00Z"),
        ),
        ("config", "{\"a\": [1, 2]}", "JSON", json!({"a": [1, 2]})),
    ] {
        let (status, stored) = put(key, body, &[]).await;
        assert_eq!(status, 200, "{key}: {stored}");
        let (status, read) = app
            .get(&format!("/api/v1/acme/namespaces/company/kv/{key}"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            (read["type"].clone(), read["value"].clone()),
            (json!(kind), value),
            "{key}"
        );
    }
    let (status, _) = put("forced", "42", &[("kv-type", "STRING")]).await;
    assert_eq!(status, 200);
    let (_, read) = app.get("/api/v1/acme/namespaces/company/kv/forced").await;
    assert_eq!(
        (read["type"].clone(), read["value"].clone()),
        (json!("STRING"), json!("42"))
    );
    let (status, body) = put("wrong", "\"x\"", &[("kv-type", "NUMBER")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put("bad-ttl", "1", &[("ttl", "soon")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = put("bad key!", "1", &[]).await;
    assert_eq!(status, 422);

    let (status, stored) = put("short", "1", &[("ttl", "PT1S")]).await;
    assert_eq!(status, 200);
    assert!(stored["expirationDate"].is_string(), "{stored}");
    let (_, listed) = app.get("/api/v1/acme/namespaces/company/kv").await;
    let keys: Vec<_> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert!(keys.contains(&json!("short")));
    assert!(
        listed[0].get("value").is_none(),
        "listings carry no values: {listed}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = app.get("/api/v1/acme/namespaces/company/kv/short").await;
    assert_eq!(status, 404, "expired");
    let (_, listed) = app.get("/api/v1/acme/namespaces/company/kv").await;
    assert!(!listed.to_string().contains("\"short\""), "{listed}");

    let (status, _) = app.delete("/api/v1/acme/namespaces/company/kv/count").await;
    assert_eq!(status, 204);
    let (status, _) = app.get("/api/v1/acme/namespaces/company/kv/count").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_flow_secret_and_kv_mutation_is_audited_in_its_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create(&app, "acme", HELLO).await;
    app.yaml(
        Method::PUT,
        "/api/v1/acme/flows/company.team/hello",
        &app.admin,
        &HELLO.replace("Hello", "Hi"),
    )
    .await;
    app.delete("/api/v1/acme/flows/company.team/hello").await;
    app.put(
        "/api/v1/acme/namespaces/company/secrets/K",
        json!({"value": "v1"}),
    )
    .await;
    app.put(
        "/api/v1/acme/namespaces/company/secrets/K",
        json!({"value": "v2"}),
    )
    .await;
    app.delete("/api/v1/acme/namespaces/company/secrets/K")
        .await;
    app.send(
        Method::PUT,
        "/api/v1/acme/namespaces/company/kv/k",
        Some(&app.admin),
        Some(json!(1)),
    )
    .await;
    app.delete("/api/v1/acme/namespaces/company/kv/k").await;
    let expected = [
        ("FLOW", "CREATE"),
        ("FLOW", "UPDATE"),
        ("FLOW", "DELETE"),
        ("SECRET", "CREATE"),
        ("SECRET", "UPDATE"),
        ("SECRET", "DELETE"),
        ("KVSTORE", "CREATE"),
        ("KVSTORE", "DELETE"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = app.get("/api/v1/acme/auditlogs/search?size=100").await;
        let entries = log["results"].as_array().cloned().unwrap_or_default();
        let found = |(kind, action): &(&str, &str)| {
            entries.iter().any(|e| {
                e["resourceType"] == *kind && e["action"] == *action && e["actor"] == "admin"
            })
        };
        if expected.iter().all(found) {
            let flow = entries
                .iter()
                .find(|e| e["resourceType"] == "FLOW" && e["action"] == "UPDATE")
                .expect("update");
            assert_eq!(flow["details"]["revision"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "missing audit entries: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, other) = app
        .get("/api/v1/globex/auditlogs/search?resourceType=FLOW")
        .await;
    assert_eq!(
        (status, other["total"].clone()),
        (200, json!(0)),
        "nothing lands in another tenant's log"
    );
}

#[tokio::test]
async fn triggers_are_extracted_and_readable_by_aerie_services_in_their_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create(&app, "acme", HELLO).await;
    let (_, page) = app.get("/api/v1/acme/triggers/search?q=hook").await;
    assert_eq!(page["total"], 1);
    assert!(
        !page.to_string().contains("acme-webhook-key"),
        "webhook keys are credentials: {page}"
    );
    let (_, page) = app
        .get("/api/v1/acme/triggers/search?namespace=company")
        .await;
    let daily = &page["results"][0];
    assert_eq!(
        (daily["triggerId"].clone(), daily["cron"].clone()),
        (json!("daily"), json!("0 9 * * *"))
    );

    let mut internal = FlowInternalServiceClient::new(app.internal_channel());
    let request = aerie_proto::flow::internal::v1::GetFlowTriggersRequest {
        namespace: "company.team".into(),
        flow_id: "hello".into(),
    };
    let triggers = internal
        .get_flow_triggers(internal_call(&app, request.clone(), "acme"))
        .await
        .expect("triggers")
        .into_inner()
        .triggers;
    let hook = triggers
        .iter()
        .find(|t| t.trigger_id == "hook")
        .expect("hook");
    assert_eq!(
        aerie_proto::wire::from_struct(hook.definition.clone())["key"],
        "acme-webhook-key"
    );
    let err = internal
        .get_flow_triggers(internal_call(&app, request.clone(), "globex"))
        .await
        .expect_err("not globex's flow");
    assert_eq!(err.code(), Code::NotFound);

    // An update replaces the triggers; a delete removes them.
    let without_hook = HELLO
        .split("  - id: hook")
        .next()
        .expect("prefix")
        .to_owned();
    app.yaml(
        Method::PUT,
        "/api/v1/acme/flows/company.team/hello",
        &app.admin,
        &without_hook,
    )
    .await;
    let (_, page) = app.get("/api/v1/acme/triggers/search").await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["results"][0]["flowRevision"], 2);
    app.delete("/api/v1/acme/flows/company.team/hello").await;
    let err = internal
        .get_flow_triggers(internal_call(&app, request, "acme"))
        .await
        .expect_err("deleted flow");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn postgres_row_level_security_hides_rows_a_query_forgot_to_filter() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    if app.flow_db.backend != "postgres" {
        // SQLite has no row-level security: the repository filter, tested
        // everywhere else in this file, is the only line there.
        eprintln!("skipped: set AERIE_TEST_DATABASE_URL to run on PostgreSQL");
        return;
    }
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create(&app, "acme", HELLO).await;
    create(&app, "globex", HELLO).await;
    create(&app, "globex", &flow("other", "second", "x")).await;
    app.put(
        "/api/v1/globex/namespaces/company/secrets/K",
        json!({"value": "v"}),
    )
    .await;

    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let db = Database::connect(app.flow_db.url.as_str())
        .await
        .expect("connect");
    // A query that forgets `WHERE tenant_id = ...`, inside acme's transaction.
    let unfiltered = |tenant: Option<&'static str>, table: &'static str| {
        crate::rls::unfiltered_tenants(&db, tenant, table)
    };
    assert_eq!(unfiltered(Some("acme"), "flows").await, ["acme"]);
    assert_eq!(unfiltered(Some("globex"), "flows").await.len(), 2);
    assert!(unfiltered(Some("acme"), "secrets").await.is_empty());
    assert!(
        unfiltered(Some("acme"), "flow_revisions")
            .await
            .iter()
            .all(|t| t == "acme")
    );
    assert!(
        unfiltered(None, "flows").await.is_empty(),
        "no tenant set: no rows"
    );
    // Writing another tenant's row is refused too.
    let txn = db.begin().await.expect("begin");
    txn.execute_unprepared("SELECT set_config('aerie.tenant', 'acme', true)")
        .await
        .expect("set");
    let planted = txn
        .execute_unprepared("UPDATE flows SET source = 'pwned' WHERE tenant_id = 'globex'")
        .await
        .expect("update runs");
    assert_eq!(
        planted.rows_affected(),
        0,
        "globex rows are invisible to acme"
    );
    let inserted = txn
        .execute_unprepared(
            "INSERT INTO kv_entries (tenant_id, namespace, key, kind, value_json, update_time) \
             VALUES ('globex', 'company', 'planted', 'STRING', '\"x\"', now())",
        )
        .await;
    assert!(
        inserted.is_err(),
        "row-level security refuses writing another tenant's row"
    );
}

#[tokio::test]
async fn secret_values_never_reach_a_log_line_even_at_debug() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = dir.path().join("aerie.yml");
    std::fs::write(
        &config,
        format!(
            "aerie:\n  tenants:\n    enabled: true\n  security:\n    super-admin:\n      username: admin\n      password: admin-password\n  server:\n    http-port: 0\n    grpc-port: 0\n  data-dir: {}\n",
            data.display()
        ),
    )
    .expect("config");
    let log = dir.path().join("aerie.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("-c")
        .arg(&config)
        .args(["-l", "debug", "server", "standalone"])
        .stdout(std::fs::File::create(dir.path().join("stdout.log")).expect("stdout"))
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn aerie");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("aerie standalone ready")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "never ready: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let address = |prefix: &str| {
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix))
            .expect("address in ready line")
            .to_owned()
    };
    let http = format!("http://{}", address("http="));
    let token = crate::app::login(&http, "admin", "admin-password").await;
    let client = crate::app::http_client();
    let response = client
        .post(format!("{http}/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&json!({"id": "acme", "name": "Acme", "adminUsername": "admin"}))
        .send()
        .await
        .expect("tenant");
    assert_eq!(response.status(), 201);
    let value = format!("log-canary-{}", uuid::Uuid::new_v4().simple());
    for _ in 0..2 {
        let response = client
            .put(format!(
                "{http}/api/v1/acme/namespaces/company/secrets/CANARY"
            ))
            .bearer_auth(&token)
            .json(&json!({"value": value}))
            .send()
            .await
            .expect("secret");
        assert_eq!(response.status(), 200);
    }
    // A run resolves it (in-process, as standalone's internal calls are).
    let response = client
        .post(format!("{http}/api/v1/acme/flows"))
        .bearer_auth(&token)
        .header("content-type", "application/x-yaml")
        .body(
            "id: canary\nnamespace: company.team\ntasks:\n  - id: use\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret('CANARY') | length }}\"\n",
        )
        .send()
        .await
        .expect("flow");
    assert_eq!(response.status(), 200);
    let started: Value = client
        .post(format!("{http}/api/v1/acme/executions/company.team/canary"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("execution")
        .json()
        .await
        .expect("json");
    let id = started["id"].as_str().expect("id").to_owned();
    let mut ended = Value::Null;
    for _ in 0..200 {
        ended = client
            .get(format!("{http}/api/v1/acme/executions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("execution")
            .json()
            .await
            .expect("json");
        if ended["state"]["current"] != "CREATED" && ended["state"]["current"] != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(
        ended["taskRunList"][0]["outputs"]["value"],
        value.len().to_string(),
        "{ended}"
    );
    // A value refused for its size is not echoed either.
    let response = client
        .put(format!(
            "{http}/api/v1/acme/namespaces/company/secrets/bad%20key"
        ))
        .bearer_auth(&token)
        .json(&json!({"value": value}))
        .send()
        .await
        .expect("secret");
    assert_eq!(response.status(), 422);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("secret stored"),
        "the log is the debug log of this run"
    );
    assert!(!text.contains(&value), "secret value in the log");
}

#[tokio::test]
async fn a_deleted_tenant_is_unreachable_even_straight_to_flow_svc() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create(&app, "acme", HELLO).await;
    app.user("dave").await;
    app.bind(Some("acme"), "dave", "Admin", None).await;
    let dave = crate::app::login(&app.http, "dave", "dave-password").await;
    let mut flows = FlowServiceClient::new(app.channel().await);
    let get = || {
        call(
            pb::GetFlowRequest {
                namespace: "company.team".into(),
                id: "hello".into(),
                revision: 0,
            },
            Some(dave.as_str()),
            Some("acme"),
        )
    };
    flows
        .get_flow(get())
        .await
        .expect("a member reads the flow");

    let (status, _) = app.delete("/api/v1/tenants/acme").await;
    assert_eq!(status, 204);
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/acme/flows/company.team/hello",
            Some(&dave),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Straight to flow-svc the membership still exists, the tenant does not:
    // refused once the service's 5 s "tenant exists" answer has run out.
    let deadline = Instant::now() + Duration::from_secs(7);
    loop {
        match flows.get_flow(get()).await {
            Err(status) if status.code() == Code::NotFound => break,
            other => assert!(
                Instant::now() < deadline,
                "deleted tenant still served: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn over_grpc_a_tenant_of_others_answers_as_one_that_does_not_exist() {
    use aerie_proto::execution::v1 as execution_pb;
    use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create(&app, "acme", HELLO).await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    let channel = app.channel().await;
    let mut flows = FlowServiceClient::new(channel.clone());
    let mut kv = KvServiceClient::new(channel.clone());
    let mut executions = ExecutionServiceClient::new(channel);
    let token = Some(bob.as_str());

    // Bob sends the same requests, valid or not, to acme (which exists) and
    // to nope (which does not): the answers must not tell them apart.
    let mut answers = Vec::new();
    for tenant in ["acme", "nope"] {
        let spoof = Some(tenant);
        let mut seen: Vec<(Code, String)> = Vec::new();
        let mut note = |result: Result<(), tonic::Status>| {
            let status = result.expect_err("refused");
            seen.push((status.code(), status.message().replace(tenant, "T")));
        };
        note(
            flows
                .list_flows(call(pb::ListFlowsRequest::default(), token, spoof))
                .await
                .map(drop),
        );
        note(
            flows
                .get_flow(call(
                    pb::GetFlowRequest {
                        namespace: "company.team".into(),
                        id: "hello".into(),
                        revision: 0,
                    },
                    token,
                    spoof,
                ))
                .await
                .map(drop),
        );
        note(
            flows
                .get_flow(call(
                    pb::GetFlowRequest {
                        namespace: "company.team".into(),
                        id: "missing".into(),
                        revision: 0,
                    },
                    token,
                    spoof,
                ))
                .await
                .map(drop),
        );
        note(
            kv.get_kv(call(
                pb::GetKvRequest {
                    namespace: "Not A Namespace".into(),
                    key: "k".into(),
                },
                token,
                spoof,
            ))
            .await
            .map(drop),
        );
        note(
            executions
                .get_execution(call(
                    execution_pb::GetExecutionRequest {
                        id: "not-an-id".into(),
                    },
                    token,
                    spoof,
                ))
                .await
                .map(drop),
        );
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[0]
            .iter()
            .all(|(code, message)| *code == Code::NotFound && message == "tenant 'T' not found"),
        "{:?}",
        answers[0]
    );
}

//! Credentials at rest and at the door: the internal service token, files
//! under data-dir, and webhook keys.

use aerie::server::start_standalone;
use aerie_common::config::Config;
use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::webhook_service_client::WebhookServiceClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::app::{Mode, TestApp, call};

/// A standalone configuration on free ports with everything under `dir`.
fn standalone_config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.server.http_port = 0;
    config.server.grpc_port = 0;
    config.data_dir = dir.join("data");
    config
}

#[tokio::test]
async fn an_empty_or_short_service_token_refuses_to_start() {
    for token in ["", "too-short-to-be-a-credential"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = standalone_config(dir.path());
        config.security.service_token = Some(token.to_owned());
        let shutdown = CancellationToken::new();
        let _stop = shutdown.clone().drop_guard();
        let err = start_standalone(config, shutdown)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with service token {token:?}"));
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }
}

#[tokio::test]
async fn an_empty_or_short_master_key_or_signing_key_refuses_to_start() {
    let short = "c2hvcnQ="; // base64 of "short"
    for (which, key) in [
        ("master", ""),
        ("master", short),
        ("jwt", ""),
        ("jwt", short),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = standalone_config(dir.path());
        match which {
            "master" => config.security.secrets_master_key = Some(key.to_owned()),
            _ => config.security.jwt_signing_key = Some(key.to_owned()),
        }
        let shutdown = CancellationToken::new();
        let _stop = shutdown.clone().drop_guard();
        let err = start_standalone(config, shutdown)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {which} key {key:?}"));
        assert!(
            err.to_string().contains("32 bytes"),
            "{which} {key:?}: {err}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn data_dir_and_every_file_in_it_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = standalone_config(dir.path());
    let data_dir = config.data_dir.clone();
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    start_standalone(config, shutdown).await.expect("starts");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700);
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&data_dir).expect("data-dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            assert_eq!(
                mode(&path) & 0o077,
                0,
                "{} is {:o}",
                path.display(),
                mode(&path)
            );
            seen.push(
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    for wanted in [
        "auth.db",
        "flow.db",
        "tenant.db",
        "execution.db",
        "service-token",
        "secrets-master-key",
    ] {
        assert!(
            seen.iter().any(|s| s == wanted),
            "{wanted} missing from {seen:?}"
        );
    }
}

#[tokio::test]
async fn webhook_callers_cannot_tell_unknown_tenants_flows_and_keys_apart() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.bind(Some("acme"), "admin", "Admin", None).await;
    let flow = "id: hooked\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: acme-key-123\n";
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            flow,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut answers = Vec::new();
    for path in [
        "/api/v1/acme/executions/webhook/company.team/hooked/wrong-key",
        "/api/v1/acme/executions/webhook/company.team/missing/acme-key-123",
        "/api/v1/nowhere/executions/webhook/company.team/hooked/acme-key-123",
        "/api/v1/Not_A_Tenant/executions/webhook/company.team/hooked/acme-key-123",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        let (status, body) = crate::app::read(response).await;
        assert_eq!(status, 404, "{path}: {body}");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "answers differ: {answers:?}"
    );

    // Straight to the service: an unknown tenant reads like a wrong key.
    let mut webhooks = WebhookServiceClient::new(app.channel().await);
    let mut messages = Vec::new();
    for (tenant, key) in [("acme", "wrong-key"), ("nowhere", "acme-key-123")] {
        let status = webhooks
            .trigger_webhook(call(
                pb::TriggerWebhookRequest {
                    namespace: "company.team".into(),
                    flow_id: "hooked".into(),
                    key: key.into(),
                    ..Default::default()
                },
                None,
                Some(tenant),
            ))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), tonic::Code::NotFound, "{tenant}: {status:?}");
        messages.push(status.message().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
}

const LEAKY: &str = r#"id: leaky
namespace: company.team
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('API_TOKEN') }}"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      nested:
        token: "Bearer {{ secret('API_TOKEN') }}"
      list: ["{{ secret('API_TOKEN') }}"]
  - id: again
    type: io.kestra.plugin.core.debug.Return
    format: "copied {{ outputs.ret.value }}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "token {{ secret('API_TOKEN') }}"
outputs:
  - id: token
    type: STRING
    value: "{{ secret('API_TOKEN') }}"
"#;

#[tokio::test]
async fn resolved_secrets_are_masked_in_outputs_flow_outputs_and_logs() {
    use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
    let secret = "tok-7b1e-masked-everywhere";
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.bind(Some("acme"), "admin", "Admin", None).await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/API_TOKEN",
            json!({"value": secret}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .yaml(
            reqwest::Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            LEAKY,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, execution) = app
        .post(
            "/api/v1/acme/executions/company.team/leaky?wait=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let id = execution["id"].as_str().expect("id").to_owned();
    let text = execution.to_string();
    assert!(
        !text.contains(secret),
        "the execution shows the secret: {text}"
    );
    assert_eq!(execution["outputs"]["token"], "******", "{execution}");
    let runs = execution["taskRunList"].as_array().expect("task runs");
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r["taskId"] == task)
            .map(|r| r["outputs"].clone())
            .unwrap_or_default()
    };
    assert_eq!(outputs("ret")["value"], "******");
    assert_eq!(
        outputs("values")["values"]["nested"]["token"],
        "Bearer ******"
    );
    assert_eq!(outputs("again")["value"], "copied ******");

    let (status, logs) = app.get(&format!("/api/v1/acme/logs/{id}")).await;
    assert_eq!(status, 200, "{logs}");
    assert!(!logs.to_string().contains(secret), "{logs}");
    // Over gRPC, the same stored execution.
    let stored = ExecutionServiceClient::new(app.channel().await)
        .get_execution(call(
            aerie_proto::execution::v1::GetExecutionRequest { id },
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("get")
        .into_inner();
    assert!(!format!("{stored:?}").contains(secret), "{stored:?}");
}

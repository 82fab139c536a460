//! A flow acts with its own namespace's reach, never its creator's: carol,
//! bound on team-a only, cannot read or overwrite team-b's KV through a
//! flow, until team-b's settings allow team-a.

use aerie_proto::flow::internal::v1::flow_internal_service_client::FlowInternalServiceClient;
use aerie_proto::flow::v1 as pb;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{Mode, TestApp, call};

const TEAM_B_VALUE: &str = "postgres://team-b-only";

struct Setup {
    app: TestApp,
    carol: String,
}

/// acme, with carol bound as Admin on namespace team-a only and a KV entry
/// `db_url` in team-b.
async fn setup() -> Setup {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("acme").await;
    app.bind(Some("acme"), "admin", "Admin", None).await;
    let carol = app.user("carol").await;
    app.bind(Some("acme"), "carol", "Admin", Some("team-a"))
        .await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/team-b/kv/db_url",
            json!(TEAM_B_VALUE),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // What the REST API refuses carol:
    let (status, body) = app
        .send(
            Method::GET,
            "/api/v1/acme/namespaces/team-b/kv/db_url",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    Setup { app, carol }
}

impl Setup {
    /// carol creates `source` and runs it; the ended execution.
    async fn carol_runs(&self, namespace: &str, id: &str, tasks: &str) -> Value {
        let source = format!("id: {id}\nnamespace: {namespace}\ntasks:\n{tasks}");
        let (status, body) = self
            .app
            .yaml(Method::POST, "/api/v1/acme/flows", &self.carol, &source)
            .await;
        assert!(matches!(status, 200 | 409), "{body}");
        if status == 409 {
            let path = format!("/api/v1/acme/flows/{namespace}/{id}");
            let (status, body) = self
                .app
                .yaml(Method::PUT, &path, &self.carol, &source)
                .await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = self
            .app
            .send(
                Method::POST,
                &format!("/api/v1/acme/executions/{namespace}/{id}?wait=true"),
                Some(&self.carol),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn logs(&self, execution: &Value) -> String {
        let id = execution["id"].as_str().expect("id");
        let (status, body) = self.app.get(&format!("/api/v1/acme/logs/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body.to_string()
    }

    async fn team_b_value(&self) -> Value {
        let (status, body) = self
            .app
            .get("/api/v1/acme/namespaces/team-b/kv/db_url")
            .await;
        assert_eq!(status, 200, "{body}");
        body["value"].clone()
    }
}

const READ_FUNCTION: &str = "  - id: read\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ kv('db_url', 'team-b') }}\"\n";
const READ_TASK: &str =
    "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    namespace: team-b\n    key: db_url\n";
const WRITE_TASK: &str = "  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    namespace: team-b\n    key: db_url\n    value: overwritten-by-team-a\n";

#[tokio::test]
async fn a_flow_cannot_reach_another_namespace_that_does_not_allow_it() {
    let setup = setup().await;
    for (id, tasks, verb) in [
        ("read-fn", READ_FUNCTION, "read"),
        ("read-task", READ_TASK, "read"),
        ("write-task", WRITE_TASK, "write"),
    ] {
        let execution = setup.carol_runs("team-a", id, tasks).await;
        assert_eq!(execution["state"]["current"], "FAILED", "{id}: {execution}");
        let logs = setup.logs(&execution).await;
        assert!(
            logs.contains(&format!("may not {verb} namespace team-b")),
            "{id}: {logs}"
        );
        assert!(
            !execution.to_string().contains(TEAM_B_VALUE),
            "{id} leaked: {execution}"
        );
    }
    assert_eq!(setup.team_b_value().await, TEAM_B_VALUE);

    // A flow reads its parents' KV, and writes nothing above its own namespace.
    let (status, body) = setup
        .app
        .put(
            "/api/v1/acme/namespaces/team-a/kv/shared",
            json!("from-parent"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let child = setup
        .carol_runs(
            "team-a.jobs",
            "child",
            "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    namespace: team-a\n    key: shared\n",
        )
        .await;
    assert_eq!(child["state"]["current"], "SUCCESS", "{child}");
    let child = setup
        .carol_runs(
            "team-a.jobs",
            "child-set",
            "  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    namespace: team-a\n    key: shared\n    value: from-child\n",
        )
        .await;
    assert_eq!(child["state"]["current"], "FAILED", "{child}");
}

#[tokio::test]
async fn a_namespace_that_allows_another_is_reached_by_its_flows() {
    let setup = setup().await;
    // carol may not open team-b herself.
    let (status, body) = setup
        .app
        .send(
            Method::PUT,
            "/api/v1/acme/namespaces/team-b/settings",
            Some(&setup.carol),
            Some(json!({"allowedNamespaces": ["team-a"]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = setup
        .app
        .put(
            "/api/v1/acme/namespaces/team-b/settings",
            json!({"allowedNamespaces": ["not a namespace"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = setup
        .app
        .put(
            "/api/v1/acme/namespaces/team-b/settings",
            json!({"allowedNamespaces": ["team-a"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = setup
        .app
        .get("/api/v1/acme/namespaces/team-b/settings")
        .await;
    assert_eq!(
        (status, body["allowedNamespaces"].clone()),
        (200, json!(["team-a"]))
    );

    let execution = setup.carol_runs("team-a", "read-fn", READ_FUNCTION).await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let execution = setup.carol_runs("team-a", "write-task", WRITE_TASK).await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(setup.team_b_value().await, "overwritten-by-team-a");

    // Another tenant's namespace of the same name is untouched by the setting.
    setup.app.create_tenant("globex").await;
    let (status, body) = setup
        .app
        .get("/api/v1/globex/namespaces/team-b/settings")
        .await;
    assert!(matches!(status, 403 | 404), "{body}");
}

#[tokio::test]
async fn flow_svc_itself_refuses_a_reach_beyond_the_flows_namespace() {
    let setup = setup().await;
    let app = &setup.app;
    let token = aerie_common::audit::service_token(None, &app.config.data_dir).expect("token");
    fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = call(message, None, Some("acme"));
        request.metadata_mut().insert(
            aerie_common::audit::SERVICE_TOKEN_HEADER,
            token.parse().expect("ascii"),
        );
        request
    }
    let mut client = FlowInternalServiceClient::new(app.internal_channel());
    let get = |flow_namespace: &str| aerie_proto::flow::internal::v1::GetKvForExecutionRequest {
        flow_namespace: flow_namespace.into(),
        namespace: "team-b".into(),
        key: "db_url".into(),
    };
    let status = client
        .get_kv_for_execution(with_token(get("team-a"), &token))
        .await
        .expect_err("team-a may not read team-b");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let status = client
        .get_kv_for_execution(with_token(get(""), &token))
        .await
        .expect_err("a flow namespace is required");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let entry = client
        .get_kv_for_execution(with_token(get("team-b"), &token))
        .await
        .expect("team-b reads its own");
    assert!(entry.into_inner().value_json.contains(TEAM_B_VALUE));
    let put = aerie_proto::flow::internal::v1::PutKvForExecutionRequest {
        entry: Some(pb::PutKvRequest {
            namespace: "team-b".into(),
            key: "db_url".into(),
            value_json: "\"x\"".into(),
            ..Default::default()
        }),
        actor: "test".into(),
        overwrite: true,
        flow_namespace: "team-a".into(),
    };
    let status = client
        .put_kv_for_execution(with_token(put, &token))
        .await
        .expect_err("team-a may not write team-b");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert_eq!(setup.team_b_value().await, TEAM_B_VALUE);
}

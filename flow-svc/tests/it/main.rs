//! flow-svc over real gRPC on 127.0.0.1:0 (with auth-svc beside it, as
//! every call is authenticated), against SQLite or (with
//! AERIE_TEST_DATABASE_URL) PostgreSQL: what the end-to-end suite cannot
//! easily provoke, such as racing writers.

use aerie_common::config::Config;
use aerie_common::testkit::TestDatabase;
use aerie_proto::auth::v1::CreateBindingRequest;
use aerie_proto::auth::v1::rbac_service_client::RbacServiceClient;
use aerie_proto::flow::v1 as pb;
use aerie_proto::flow::v1::flow_service_client::FlowServiceClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

/// flow-svc and auth-svc with fresh databases, single-tenant mode, and a
/// super admin bound to Admin in the default tenant.
struct TestService {
    channel: Channel,
    token: String,
    shutdown: CancellationToken,
    _dbs: (TestDatabase, TestDatabase),
    _data: tempfile::TempDir,
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestService {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let bearer = format!("Bearer {}", self.token).parse().expect("ascii");
        request.metadata_mut().insert("authorization", bearer);
        request
    }

    fn flows(&self) -> FlowServiceClient<Channel> {
        FlowServiceClient::new(self.channel.clone())
    }
}

async fn start() -> TestService {
    let (flow_db, auth_db) = (
        TestDatabase::new("flow").await,
        TestDatabase::new("auth").await,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.database.flow.url = Some(flow_db.url.clone());
    config.database.auth.url = Some(auth_db.url.clone());
    config.security.super_admin.username = Some("admin".into());
    config.security.super_admin.password = Some("admin-password".into());
    config.data_dir = data.path().to_owned();
    config.default_endpoints_to(addr.port());
    let shutdown = CancellationToken::new();
    let auth = aerie_auth_svc::open(&config).await.expect("open auth-svc");
    let flows = aerie_flow_svc::open(&config).await.expect("open flow-svc");
    let verifier = aerie_common::auth::verifier_for(&config).expect("verifier");
    let mut services = aerie_common::grpc::GrpcServices::new(verifier);
    aerie_auth_svc::register(&mut services, auth);
    aerie_flow_svc::register(&mut services, flows);
    tokio::spawn(services.serve(listener, shutdown.clone()));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let token = aerie_proto::auth::v1::auth_service_client::AuthServiceClient::new(channel.clone())
        .issue_token(aerie_proto::auth::v1::IssueTokenRequest {
            username: "admin".into(),
            password: "admin-password".into(),
        })
        .await
        .expect("login")
        .into_inner()
        .access_token;
    let service = TestService {
        channel,
        token,
        shutdown,
        _dbs: (flow_db, auth_db),
        _data: data,
    };
    RbacServiceClient::new(service.channel.clone())
        .create_binding(service.request(CreateBindingRequest {
            r#type: aerie_proto::auth::v1::BindingType::User as i32,
            subject: "admin".into(),
            role: "Admin".into(),
            namespace: String::new(),
        }))
        .await
        .expect("bind the super admin");
    service
}

fn source(message: &str) -> String {
    format!(
        "id: race\nnamespace: team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

#[tokio::test]
async fn racing_creates_of_one_flow_have_exactly_one_winner() {
    let svc = start().await;
    let attempts = (0..20).map(|i| {
        let mut client = svc.flows();
        let request = svc.request(pb::CreateFlowRequest {
            source: source(&format!("attempt {i}")),
        });
        async move { client.create_flow(request).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(result.code(), Code::AlreadyExists, "{result:?}");
    }
    let revisions = svc
        .flows()
        .list_flow_revisions(svc.request(pb::ListFlowRevisionsRequest {
            namespace: "team".into(),
            id: "race".into(),
        }))
        .await
        .expect("revisions")
        .into_inner()
        .revisions;
    assert_eq!(revisions.len(), 1);
}

#[tokio::test]
async fn racing_updates_never_share_or_skip_a_revision() {
    let svc = start().await;
    svc.flows()
        .create_flow(svc.request(pb::CreateFlowRequest {
            source: source("first"),
        }))
        .await
        .expect("create");
    let updates = (0..20).map(|i| {
        let mut client = svc.flows();
        let request = svc.request(pb::UpdateFlowRequest {
            namespace: "team".into(),
            id: "race".into(),
            source: source(&format!("update {i}")),
        });
        async move { client.update_flow(request).await }
    });
    let results = futures::future::join_all(updates).await;
    let saved: Vec<i32> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|f| f.get_ref().revision))
        .collect();
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            refused.code(),
            Code::Aborted,
            "a loser is told to retry: {refused:?}"
        );
    }
    assert!(!saved.is_empty());
    let revisions = svc
        .flows()
        .list_flow_revisions(svc.request(pb::ListFlowRevisionsRequest {
            namespace: "team".into(),
            id: "race".into(),
        }))
        .await
        .expect("revisions")
        .into_inner()
        .revisions;
    let numbers: Vec<i32> = revisions.iter().map(|r| r.revision).collect();
    let expected: Vec<i32> = (1..=(saved.len() as i32 + 1)).collect();
    assert_eq!(
        numbers, expected,
        "one revision per successful update, none shared"
    );
    let latest = svc
        .flows()
        .get_flow(svc.request(pb::GetFlowRequest {
            namespace: "team".into(),
            id: "race".into(),
            revision: 0,
        }))
        .await
        .expect("latest")
        .into_inner();
    assert_eq!(latest.revision, *numbers.last().expect("some"));
    assert_eq!(Some(&latest.source), revisions.last().map(|r| &r.source));
}

#[tokio::test]
async fn a_tenant_header_is_refused_while_multi_tenancy_is_off() {
    let svc = start().await;
    let mut request = svc.request(pb::SearchFlowsRequest::default());
    request
        .metadata_mut()
        .insert("x-aerie-tenant", "acme".parse().expect("ascii"));
    let err = svc
        .flows()
        .search_flows(request)
        .await
        .expect_err("no tenants");
    assert_eq!(err.code(), Code::NotFound);
    let page = svc
        .flows()
        .search_flows(svc.request(pb::SearchFlowsRequest::default()))
        .await
        .expect("default tenant")
        .into_inner();
    assert_eq!(page.total, 0);
}

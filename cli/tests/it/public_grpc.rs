//! The gateway's public gRPC endpoint (`aerie server gateway`, on its
//! `grpc-port`): a client reaches every public service through it, streams
//! included, with the same checks as anywhere (tenant B's token and a
//! spoofed x-aerie-tenant see nothing of A); reflection lists the public
//! services only, and Aerie's internal calls are not served there.

use aerie_proto::auth::v1 as auth_pb;
use aerie_proto::execution::v1 as exec_pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use aerie_proto::flow::v1 as flow_pb;
use aerie_proto::flow::v1::flow_internal_service_client::FlowInternalServiceClient;
use aerie_proto::flow::v1::flow_service_client::FlowServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::app::{Mode, TestApp, call};
use crate::executions::tenant;

/// Starts the public endpoint in front of `app`'s services; its address.
async fn public_endpoint(app: &TestApp, shutdown: CancellationToken) -> String {
    let mut config = app.config.clone();
    for endpoint in [
        &mut config.endpoints.tenant,
        &mut config.endpoints.auth,
        &mut config.endpoints.flow,
        &mut config.endpoints.execution,
    ] {
        *endpoint = Some(app.grpc.clone());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        aerie_gateway::grpc_proxy::serve_grpc(&config, listener, shutdown)
            .await
            .expect("public gRPC endpoint");
    });
    address
}

async fn connect(address: &str) -> tonic::transport::Channel {
    for _ in 0..50 {
        if let Ok(channel) = tonic::transport::Channel::from_shared(address.to_owned())
            .expect("uri")
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the public gRPC endpoint never listened");
}

/// The services reflection lists at `channel`.
async fn listed(channel: tonic::transport::Channel) -> Vec<String> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = responses.message().await.expect("answer").expect("one");
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("not a list: {other:?}"),
    }
}

/// The methods of every service in the descriptors reflection gives for
/// `name` (as `/package.Service/Method`), or None when it knows no such
/// symbol.
async fn symbol(channel: tonic::transport::Channel, name: &str) -> Option<Vec<String>> {
    use prost::Message;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(name.to_owned())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = match responses.message().await {
        Err(status) if status.code() == Code::NotFound => return None,
        other => other.expect("answer").expect("one"),
    };
    match answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => Some(
            files
                .file_descriptor_proto
                .iter()
                .map(|bytes| prost_types::FileDescriptorProto::decode(&bytes[..]).expect("file"))
                .flat_map(|file| {
                    let package = file.package().to_owned();
                    file.service
                        .into_iter()
                        .flat_map(move |service| {
                            let name = format!("{package}.{}", service.name());
                            service
                                .method
                                .into_iter()
                                .map(move |m| format!("/{name}/{}", m.name()))
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
        ),
        _ => None,
    }
}

#[tokio::test]
async fn a_client_reaches_the_public_services_through_the_gateway_and_nothing_internal() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    let shutdown = CancellationToken::new();
    let address = public_endpoint(&app, shutdown.clone()).await;
    let channel = connect(&address).await;

    // Reflection: the public services, health and reflection; nothing internal.
    let services = listed(channel.clone()).await;
    for public in aerie_proto::PUBLIC_SERVICES {
        assert!(
            services.iter().any(|s| s == public),
            "{public} missing: {services:?}"
        );
    }
    assert!(services.iter().any(|s| s == "grpc.health.v1.Health"));
    assert!(
        !services.iter().any(|s| s.contains("Internal")),
        "{services:?}"
    );
    // The services' own port lists no internal service either.
    let direct = listed(app.channel().await).await;
    assert!(!direct.iter().any(|s| s.contains("Internal")), "{direct:?}");
    // Nor does describing: the published descriptors hold no internal
    // service or call.
    for channel in [channel.clone(), app.channel().await] {
        assert!(
            symbol(channel.clone(), "aerie.flow.v1.FlowInternalService")
                .await
                .is_none()
        );
        let auth = symbol(channel, "aerie.auth.v1.AuthService")
            .await
            .expect("AuthService is described");
        assert!(auth.iter().any(|m| m.ends_with("/IssueToken")), "{auth:?}");
        assert!(
            !auth.iter().any(|m| m.ends_with("/CheckTokenRevoked")),
            "{auth:?}"
        );
    }

    // Health answers SERVING for the endpoint.
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Sign in, create a flow, run it and follow it to its end, all here.
    let token = aerie_proto::auth::v1::auth_service_client::AuthServiceClient::new(channel.clone())
        .issue_token(auth_pb::IssueTokenRequest {
            username: "admin".into(),
            password: "admin-password".into(),
        })
        .await
        .expect("login")
        .into_inner()
        .access_token;
    let source = "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.debug.Return\n    format: hi\n";
    FlowServiceClient::new(channel.clone())
        .create_flow(call(
            flow_pb::CreateFlowRequest {
                source: source.into(),
            },
            Some(&token),
            Some("acme"),
        ))
        .await
        .expect("create flow");
    let mut executions = ExecutionServiceClient::new(channel.clone());
    let started = executions
        .create_execution(call(
            exec_pb::CreateExecutionRequest {
                namespace: "company.team".into(),
                flow_id: "hello".into(),
                ..Default::default()
            },
            Some(&token),
            Some("acme"),
        ))
        .await
        .expect("start")
        .into_inner();
    let mut stream = executions
        .follow_execution(call(
            exec_pb::FollowExecutionRequest {
                id: started.id.clone(),
            },
            Some(&token),
            Some("acme"),
        ))
        .await
        .expect("follow")
        .into_inner();
    let mut last = None;
    while let Some(execution) = stream.message().await.expect("message") {
        last = execution.state.map(|s| s.current);
    }
    assert_eq!(last.as_deref(), Some("SUCCESS"));

    // Tenant isolation holds through it: globex's admin and a spoofed
    // x-aerie-tenant see nothing of acme's.
    let outsider = app.user("outsider").await;
    app.bind(Some("globex"), "outsider", "Admin", None).await;
    for (who, tenant) in [(&outsider, "globex"), (&outsider, "acme")] {
        let denied = FlowServiceClient::new(channel.clone())
            .get_flow(call(
                flow_pb::GetFlowRequest {
                    namespace: "company.team".into(),
                    id: "hello".into(),
                    revision: 0,
                },
                Some(who),
                Some(tenant),
            ))
            .await
            .expect_err("no flow of acme's");
        assert!(
            matches!(denied.code(), Code::NotFound | Code::PermissionDenied),
            "{tenant}: {denied:?}"
        );
    }
    // No credential: refused as by the services themselves.
    let anonymous = executions
        .get_execution(call(
            exec_pb::GetExecutionRequest {
                id: started.id.clone(),
            },
            None,
            Some("acme"),
        ))
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Internal calls are not served here, whatever the caller sends.
    let internal = FlowInternalServiceClient::new(channel.clone())
        .get_flow_for_execution(call(
            flow_pb::GetFlowRequest {
                namespace: "company.team".into(),
                id: "hello".into(),
                revision: 0,
            },
            Some(&token),
            Some("acme"),
        ))
        .await
        .expect_err("internal");
    assert_eq!(internal.code(), Code::Unimplemented, "{internal:?}");
    let revoked = aerie_proto::auth::v1::auth_service_client::AuthServiceClient::new(channel)
        .check_token_revoked(auth_pb::CheckTokenRevokedRequest::default())
        .await
        .expect_err("internal");
    assert_eq!(revoked.code(), Code::Unimplemented, "{revoked:?}");
    shutdown.cancel();
}

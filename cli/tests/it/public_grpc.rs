//! The gateway's public gRPC endpoint (`aerie server gateway`, on its
//! `grpc-port`): a client reaches every public service through it, streams
//! included, with the same checks as anywhere (tenant B's token and a
//! spoofed x-aerie-tenant see nothing of A); reflection lists the public
//! services only, and Aerie's internal calls are not served there.

use aerie_proto::auth::v1 as auth_pb;
use aerie_proto::execution::v1 as exec_pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use aerie_proto::flow::internal::v1::flow_internal_service_client::FlowInternalServiceClient;
use aerie_proto::flow::v1 as flow_pb;
use aerie_proto::flow::v1::flow_service_client::FlowServiceClient;
use std::collections::HashMap;

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
            symbol(
                channel.clone(),
                "aerie.flow.internal.v1.FlowInternalService"
            )
            .await
            .is_none()
        );
        assert!(
            symbol(channel.clone(), "aerie.auth.internal.v1.CheckAccessRequest")
                .await
                .is_none()
        );
        let auth = symbol(channel, "aerie.auth.v1.AuthService")
            .await
            .expect("AuthService is described");
        assert!(auth.iter().any(|m| m.ends_with("/IssueToken")), "{auth:?}");
        assert!(
            !auth.iter().any(|m| m.ends_with("/CheckAccess")),
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
    assert_eq!(last, Some(exec_pb::ExecutionState::Success as i32));

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
            aerie_proto::flow::internal::v1::GetFlowForExecutionRequest {
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
    let revoked = aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient::new(channel)
        .check_token_revoked(aerie_proto::auth::internal::v1::CheckTokenRevokedRequest::default())
        .await
        .expect_err("internal");
    assert_eq!(revoked.code(), Code::Unimplemented, "{revoked:?}");
    shutdown.cancel();
}

/// One `rpc` of the protos with its HTTP annotation, read from the text
/// (prost keeps no custom options, and these files are ours).
#[derive(Debug)]
struct Annotated {
    service: String,
    rpc: String,
    request: String,
    verb: String,
    path: String,
    body: Option<String>,
}

/// Each message's field names, by message name.
type Fields = HashMap<String, Vec<String>>;

/// Every message's field names, and every annotated rpc, of one file.
fn read_proto(text: &str) -> (Fields, Vec<Annotated>) {
    let mut fields = Fields::new();
    let mut message: Option<String> = None;
    // Blocks open inside the message (oneof): their fields are its own.
    let mut inner = 0;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("message ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            fields.entry(name.clone()).or_default();
            message = (!rest.trim_end().ends_with("{}")).then_some(name);
        } else if message.is_some() && line.ends_with('{') {
            inner += 1;
        } else if line == "}" && inner > 0 {
            inner -= 1;
        } else if line == "}" {
            message = None;
        } else if let Some(name) = &message
            && let Some((declaration, _)) = line.split_once(" = ")
            && !line.starts_with("//")
            && !line.starts_with("reserved")
            && let Some(field) = declaration.split_whitespace().last()
        {
            fields
                .entry(name.clone())
                .or_default()
                .push(field.to_owned());
        }
    }
    let mut rpcs = Vec::new();
    for (at, _) in text.match_indices("\n  rpc ") {
        let piece = &text[at + "\n  rpc ".len()..];
        let piece = piece.split("\n  rpc ").next().unwrap_or_default();
        let service = text[..at]
            .rsplit_once("\nservice ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        let rpc = piece
            .split('(')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let request = piece
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(r, _)| r.trim_start_matches("stream ").trim().to_owned())
            .unwrap_or_default();
        let Some((_, option)) = piece.split_once("(google.api.http) = {") else {
            continue;
        };
        let option = option.split("};").next().unwrap_or_default();
        let quoted = |key: &str| {
            option
                .split_once(&format!("{key}: \""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(value, _)| value.to_owned())
        };
        let (verb, path) = ["get", "post", "put", "delete", "patch"]
            .into_iter()
            .find_map(|verb| quoted(verb).map(|path| (verb.to_owned(), path)))
            .unwrap_or_else(|| panic!("{rpc}: an annotation without a verb: {option}"));
        rpcs.push(Annotated {
            service,
            rpc,
            request,
            verb,
            path,
            body: quoted("body"),
        });
    }
    (fields, rpcs)
}

/// The `google.api.http` annotations are what a transcoder would accept and
/// what the gateway serves: each names a route of the served OpenAPI
/// document (default-tenant form), binds only fields of its request (no
/// `{tenant}`: the tenant is metadata), and no internal call has one.
#[tokio::test]
async fn http_annotations_name_the_served_routes_and_request_fields() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let shape = |path: &str| {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut served = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for verb in item.as_object().expect("operations").keys() {
            served.insert((verb.clone(), shape(path)));
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/aerie");
    let mut checked = 0;
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("proto dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 9, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("proto");
        let package = text
            .lines()
            .find_map(|l| l.strip_prefix("package "))
            .expect("package")
            .trim_end_matches(';')
            .to_owned();
        let (fields, rpcs) = read_proto(&text);
        for rpc in rpcs {
            let method = format!("/{package}.{}/{}", rpc.service, rpc.rpc);
            assert!(
                aerie_proto::is_public_call(&method),
                "{method} is internal: it must carry no REST annotation"
            );
            let request = fields
                .get(&rpc.request)
                .unwrap_or_else(|| panic!("{method}: request {} not read", rpc.request));
            for variable in rpc
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                assert!(
                    request.iter().any(|f| f == variable),
                    "{method}: {{{variable}}} in {} is no field of {}",
                    rpc.path,
                    rpc.request
                );
            }
            if let Some(body) = &rpc.body {
                assert!(
                    body == "*" || request.iter().any(|f| f == body),
                    "{method}: body {body} is no field of {}",
                    rpc.request
                );
            }
            // Webhooks answer every method, so the document lists none.
            if !rpc.path.starts_with("/api/v1/executions/webhook/") {
                assert!(
                    served.contains(&(rpc.verb.clone(), shape(&rpc.path))),
                    "{method}: {} {} is not a served route",
                    rpc.verb,
                    rpc.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 70, "only {checked} annotations read");
}

/// The endpoint's health follows the services behind it, as REST's
/// `/health` does: with flow-svc unreachable, FlowService and the whole
/// endpoint are NOT_SERVING while the tenant services stay SERVING.
#[tokio::test]
async fn the_endpoints_health_follows_the_services_behind_it() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let mut config = app.config.clone();
    for endpoint in [
        &mut config.endpoints.tenant,
        &mut config.endpoints.auth,
        &mut config.endpoints.execution,
    ] {
        *endpoint = Some(app.grpc.clone());
    }
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    config.endpoints.flow = Some(format!("http://{}", dead.local_addr().expect("addr")));
    drop(dead);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        aerie_gateway::grpc_proxy::serve_grpc(&config, listener, stop)
            .await
            .expect("public gRPC endpoint");
    });
    let channel = connect(&address).await;
    let status_of = |service: &'static str| {
        let channel = channel.clone();
        async move {
            tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest {
                    service: service.to_owned(),
                })
                .await
                .map(|answer| answer.into_inner().status)
                .unwrap_or(-1)
        }
    };
    let mut seen = (0, 0, 0);
    for _ in 0..50 {
        seen = (
            status_of("aerie.flow.v1.FlowService").await,
            status_of("").await,
            status_of("aerie.tenant.v1.TenantService").await,
        );
        if seen
            == (
                ServingStatus::NotServing as i32,
                ServingStatus::NotServing as i32,
                ServingStatus::Serving as i32,
            )
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        seen,
        (
            ServingStatus::NotServing as i32,
            ServingStatus::NotServing as i32,
            ServingStatus::Serving as i32
        ),
        "(flow, whole endpoint, tenant)"
    );
    shutdown.cancel();
}

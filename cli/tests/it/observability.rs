//! Traces and metrics of the five-process deployment: one trace from a REST
//! request through the gateway into the services it calls, exported over
//! OTLP to a collector run by the test, and `/metrics` on every process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, SERVICES};

/// One exported span, reduced to what the assertions need.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    /// Every attribute, as text, to look for what must not be there.
    attributes: String,
}

/// An OTLP/gRPC trace collector that keeps everything it receives.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("lock");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    AnyValue::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(Span {
                    service: service.clone(),
                    attributes: format!("{:?}", span.attributes),
                    name: span.name,
                    trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    /// Serves on a free loopback port until `stop`; returns its URL.
    async fn start(&self, stop: CancellationToken) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    stop.cancelled_owned(),
                )
                .await
        });
        format!("http://{addr}")
    }

    /// Waits (up to 20 s) until every service of `wanted` has exported a
    /// span of `trace_id`, and fails naming what was seen otherwise.
    async fn assert_trace_spans(&self, trace_id: &str, wanted: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen: BTreeSet<String> = self
                .spans
                .lock()
                .expect("lock")
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .map(|s| s.service.clone())
                .collect();
            if wanted.iter().all(|w| seen.contains(*w)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id} has spans of {seen:?}, not of all of {wanted:?}: {:?}",
                self.spans.lock().expect("lock")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The trace id of the first span named `name` from `service`.
    async fn trace_of(&self, service: &str, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .spans
                .lock()
                .expect("lock")
                .iter()
                .find(|s| s.service == service && s.name == name)
                .map(|s| s.trace_id.clone());
            if let Some(trace_id) = found {
                return trace_id;
            }
            assert!(
                Instant::now() < deadline,
                "no span '{name}' from {service}: {:?}",
                self.spans.lock().expect("lock")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn send(
    http: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<(&str, String)>,
    traceparent: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = crate::app::http_client()
        .request(method, format!("{http}{path}"))
        .bearer_auth(token);
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    crate::app::read(request.send().await.expect("request")).await
}

/// Creates tenant `id` with the admin as its Admin.
async fn create_tenant(http: &str, token: &str, id: &str) {
    let tenant = json!({"id": id, "name": id, "adminUsername": "admin"}).to_string();
    let (status, body) = send(
        http,
        token,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(("application/json", tenant)),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// Runs `<tenant>.team/hello` in `tenant`, waits for its end (SUCCESS) and
/// returns its id.
async fn run_hello(http: &str, token: &str, tenant: &str) -> String {
    let (status, body) = send(
        http,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/{tenant}/executions/{tenant}.team/hello?wait=true"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    body["id"].as_str().expect("id").to_owned()
}

const FLOW: &str = "id: hello\nnamespace: obs.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

#[tokio::test]
async fn one_trace_crosses_the_gateway_and_the_services_it_calls() {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let collector = Collector::default();
    let endpoint = collector.start(stop).await;
    let cluster = Cluster::start(&[
        ("AERIE_TELEMETRY_OTLP_ENDPOINT", endpoint),
        // Export batches every 100 ms instead of every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ])
    .await;
    let http = &cluster.http;
    let token = crate::app::login(http, "admin", "admin-password").await;
    create_tenant(http, &token, "obs").await;

    // A caller's trace is continued: the gateway and flow-svc (and auth-svc,
    // which flow-svc asks for the access decision) record spans in it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (status, body) = send(
        http,
        &token,
        reqwest::Method::POST,
        "/api/v1/obs/flows",
        Some(("application/x-yaml", FLOW.to_owned())),
        Some(&format!("00-{trace_id}-00f067aa0ba902b7-01")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let wanted = ["aerie-gateway", "aerie-flow", "aerie-auth"];
    collector.assert_trace_spans(trace_id, &wanted).await;

    // Without a caller's trace the gateway starts one, and the execution it
    // forwards carries it into execution-svc and on to flow-svc.
    run_hello(http, &token, "obs").await;
    let started = collector
        .trace_of(
            "aerie-gateway",
            "POST /api/v1/{tenant}/executions/{namespace}/{flow_id}",
        )
        .await;
    assert_ne!(started, trace_id);
    let wanted = ["aerie-gateway", "aerie-execution", "aerie-flow"];
    collector.assert_trace_spans(&started, &wanted).await;

    // A webhook's key is a credential: no exported span shows it.
    let key = "obs-webhook-key-7f3a9c";
    let hooked = format!("{FLOW}triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: {key}\n")
        .replace("id: hello", "id: hooked");
    let (status, body) = send(
        http,
        &token,
        reqwest::Method::POST,
        "/api/v1/obs/flows",
        Some(("application/x-yaml", hooked)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/v1/obs/executions/webhook/obs.team/hooked/{key}?wait=true");
    let (status, body) = send(http, &token, reqwest::Method::POST, &path, None, None).await;
    assert_eq!(status, 200, "{body}");
    let hooked = collector
        .trace_of(
            "aerie-gateway",
            "POST /api/v1/{tenant}/executions/webhook/{namespace}/{flow_id}/{key}",
        )
        .await;
    collector
        .assert_trace_spans(&hooked, &["aerie-gateway", "aerie-execution"])
        .await;
    let leaked: Vec<Span> = collector
        .spans
        .lock()
        .expect("lock")
        .iter()
        .filter(|s| s.attributes.contains(key) || s.name.contains(key))
        .cloned()
        .collect();
    assert!(leaked.is_empty(), "spans show the webhook key: {leaked:?}");
    cluster.processes.stop();
}

/// `GET /metrics` of one process.
pub(crate) async fn scrape(port: u16) -> String {
    let response = crate::app::http_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    response.text().await.expect("body")
}

/// The value of the sample whose line starts with `series` (name and labels).
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn every_process_serves_metrics_with_bounded_labels() {
    let cluster = Cluster::start(&[]).await;
    let http = &cluster.http;
    let token = crate::app::login(http, "admin", "admin-password").await;
    create_tenant(http, &token, "metered").await;
    let flow = FLOW.replace("obs.team", "metered.team");
    let (status, _) = send(
        http,
        &token,
        reqwest::Method::POST,
        "/api/v1/metered/flows",
        Some(("application/x-yaml", flow)),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(run_hello(http, &token, "metered").await);
    }
    let (status, _) = send(
        http,
        &token,
        reqwest::Method::GET,
        "/api/v1/metered/flows/metered.team/nope",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);

    let mut texts = HashMap::new();
    for service in SERVICES {
        texts.insert(service, scrape(cluster.metrics[service]).await);
    }
    let gateway = &texts["gateway"];
    assert_eq!(
        value(
            gateway,
            r#"aerie_http_requests_total{method="POST",route="/api/v1/{tenant}/executions/{namespace}/{flow_id}",status="200"}"#
        ),
        Some(3.0),
        "{gateway}"
    );
    assert_eq!(
        value(
            gateway,
            r#"aerie_http_requests_total{method="GET",route="/api/v1/{tenant}/flows/{namespace}/{id}",status="404"}"#
        ),
        Some(1.0),
        "{gateway}"
    );
    assert!(gateway.contains(r#"aerie_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/v1/{tenant}/flows"} 1"#), "{gateway}");

    let flow = &texts["flow"];
    assert_eq!(
        value(
            flow,
            r#"aerie_grpc_server_requests_total{service="aerie.flow.v1.FlowService",method="GetFlow",code="NotFound"}"#
        ),
        Some(1.0),
        "{flow}"
    );
    assert!(
        flow.contains(r#"aerie_audit_outbox_backlog{service="flow"}"#),
        "{flow}"
    );
    assert!(texts["tenant"].contains(r#"aerie_audit_outbox_backlog{service="tenant"}"#));
    assert!(texts["auth"].contains(r#"service="aerie.auth.v1.AuthService""#));

    let execution = &texts["execution"];
    assert_eq!(
        value(
            execution,
            r#"aerie_execution_state_changes_total{state="SUCCESS"}"#
        ),
        Some(3.0),
        "{execution}"
    );
    assert_eq!(
        value(execution, r#"aerie_execution_queue{state="running"}"#),
        Some(0.0),
        "{execution}"
    );
    assert_eq!(
        value(execution, r#"aerie_execution_queue{state="queued"}"#),
        Some(0.0)
    );
    assert!(execution.contains(r#"aerie_audit_outbox_backlog{service="execution"}"#));

    // No label carries an id: not the tenant's, not an execution's.
    for (service, text) in &texts {
        for id in ids.iter().map(String::as_str).chain(["metered", "nope"]) {
            assert!(
                !text.contains(id),
                "{service}'s metrics name '{id}':\n{text}"
            );
        }
    }
    cluster.processes.stop();
}

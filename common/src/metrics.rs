//! Prometheus metrics: process-wide request instruments, and gauges that
//! services sample from their own databases at scrape time, served in the
//! OpenMetrics text format on `aerie.server.metrics-port` (`GET /metrics`).
//!
//! Every label has a bounded set of values: gRPC methods come from the
//! protos (an unknown path is counted as `unknown`), HTTP routes are the
//! matched route templates, states are the execution states. No id of any
//! resource or tenant is ever a label.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

type Labels = Vec<(&'static str, String)>;

/// The instruments every process records into.
pub struct Instruments {
    registry: Registry,
    grpc_requests: Family<Labels, Counter>,
    grpc_duration: Family<Labels, Histogram>,
    http_requests: Family<Labels, Counter>,
    http_duration: Family<Labels, Histogram>,
    execution_states: Family<Labels, Counter>,
    quota_refusals: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s: the span of an authorised read to a slow `?wait=true`.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// The process-wide instruments.
pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let mut registry = Registry::with_prefix("aerie");
        let grpc_requests = Family::<Labels, Counter>::default();
        let grpc_duration =
            Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let http_requests = Family::<Labels, Counter>::default();
        let http_duration =
            Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let execution_states = Family::<Labels, Counter>::default();
        let quota_refusals = Family::<Labels, Counter>::default();
        registry.register(
            "quota_refusals",
            "Requests and tasks refused by a per-tenant quota, by quota (no tenant label: tenants are unbounded)",
            quota_refusals.clone(),
        );
        registry.register(
            "grpc_server_requests",
            "gRPC calls served, by service, method and status code",
            grpc_requests.clone(),
        );
        registry.register(
            "grpc_server_request_duration_seconds",
            "Time to a gRPC call's response headers, by service and method",
            grpc_duration.clone(),
        );
        registry.register(
            "http_requests",
            "REST requests served by the gateway, by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to a REST response's headers, by method and route",
            http_duration.clone(),
        );
        registry.register(
            "execution_state_changes",
            "Executions entering a state in this process, by state",
            execution_states.clone(),
        );
        Instruments {
            registry,
            grpc_requests,
            grpc_duration,
            http_requests,
            http_duration,
            execution_states,
            quota_refusals,
        }
    })
}

impl Instruments {
    /// One gRPC call: `path` is `/package.Service/Method`, `code` its grpc-status.
    pub fn grpc_call(&self, service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
        let code = format!("{code:?}");
        self.grpc_requests
            .get_or_create(&vec![
                ("service", service.to_owned()),
                ("method", method.to_owned()),
                ("code", code),
            ])
            .inc();
        self.grpc_duration
            .get_or_create(&vec![
                ("service", service.to_owned()),
                ("method", method.to_owned()),
            ])
            .observe(elapsed.as_secs_f64());
    }

    /// One REST request; `route` is the route template, never the raw path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.http_duration
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
            ])
            .observe(elapsed.as_secs_f64());
    }

    /// A per-tenant quota refused something; `quota` is the key under
    /// `aerie.tenants.quotas` (a fixed, small set).
    pub fn quota_refusal(&self, quota: &'static str) {
        self.quota_refusals
            .get_or_create(&vec![("quota", quota.to_owned())])
            .inc();
    }

    /// An execution entered `state` (one of the execution states).
    pub fn execution_state(&self, state: &str) {
        self.execution_states
            .get_or_create(&vec![("state", state.to_owned())])
            .inc();
    }
}

/// One gauge value sampled at scrape time.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Without the `aerie_` prefix, e.g. `execution_queue`.
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Labels,
    pub value: i64,
}

/// Samples gauges from a service's own state (queue depth, outbox backlog).
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, Vec<Sample>> + Send + Sync>;

/// A probe that takes longer than this is left out of the scrape.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `/metrics` endpoint of one process.
#[derive(Clone, Default)]
pub struct MetricsEndpoint {
    probes: Vec<Probe>,
}

impl MetricsEndpoint {
    pub fn add_probe(&mut self, probe: Probe) -> &mut Self {
        self.probes.push(probe);
        self
    }

    /// The whole exposition: request instruments, then sampled gauges.
    pub async fn render(&self) -> String {
        let mut samples = Vec::new();
        for probe in &self.probes {
            match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                Ok(found) => samples.extend(found),
                Err(_) => tracing::warn!("a metrics probe timed out"),
            }
        }
        let mut sampled = Registry::with_prefix("aerie");
        let mut families: Vec<(&'static str, &'static str, Family<Labels, Gauge>)> = Vec::new();
        for sample in samples {
            let family = match families.iter().position(|(name, ..)| *name == sample.name) {
                Some(at) => &families[at].2,
                None => {
                    families.push((sample.name, sample.help, Family::default()));
                    &families[families.len() - 1].2
                }
            };
            family.get_or_create(&sample.labels).set(sample.value);
        }
        for (name, help, family) in families {
            sampled.register(name, help, family);
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut text, &instruments().registry);
        let _ = encode_registry(&mut text, &sampled);
        let _ = encode_eof(&mut text);
        text
    }

    /// Serves `GET /metrics` on `listener` until `shutdown`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let endpoint = Arc::new(self);
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let endpoint = endpoint.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        endpoint.render().await,
                    )
                        .into_response()
                }
            }),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

/// Binds the metrics port when one is configured and serves it in the
/// background; returns where it listens.
pub async fn spawn(
    endpoint: MetricsEndpoint,
    addr: Option<SocketAddr>,
    shutdown: CancellationToken,
) -> std::io::Result<Option<SocketAddr>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen for metrics on {addr}: {e}"),
        )
    })?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = endpoint.serve(listener, shutdown).await {
            tracing::error!(%err, "metrics endpoint stopped");
        }
    });
    Ok(Some(bound))
}

/// Serves this process's metrics with `probes` when
/// `aerie.server.metrics-port` is set, and says where.
pub async fn serve_probes(
    config: &crate::config::Config,
    probes: Vec<Probe>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut endpoint = MetricsEndpoint::default();
    for probe in probes {
        endpoint.add_probe(probe);
    }
    if let Some(addr) = spawn(endpoint, config.metrics_addr(), shutdown).await? {
        tracing::info!(metrics = %addr, "metrics endpoint ready");
    }
    Ok(())
}

/// The outbox backlog of `service`'s database, as a probe.
pub fn outbox_probe(service: &'static str, db: sea_orm::DatabaseConnection) -> Probe {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match crate::audit::backlog(&db).await {
                Ok(waiting) => vec![Sample {
                    name: "audit_outbox_backlog",
                    help: "Audit entries waiting in a service's outbox for delivery to auth-svc",
                    labels: vec![("service", service.to_owned())],
                    value: i64::try_from(waiting).unwrap_or(i64::MAX),
                }],
                Err(err) => {
                    tracing::warn!(%err, service, "outbox backlog not sampled");
                    Vec::new()
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_instruments_and_probes_once_each() {
        instruments().grpc_call(
            "aerie.flow.v1.FlowService",
            "GetFlow",
            tonic::Code::NotFound,
            Duration::from_millis(3),
        );
        instruments().execution_state("SUCCESS");
        let mut endpoint = MetricsEndpoint::default();
        endpoint.add_probe(Arc::new(|| {
            Box::pin(async {
                vec![
                    Sample {
                        name: "execution_queue",
                        help: "h",
                        labels: vec![("state", "queued".to_owned())],
                        value: 4,
                    },
                    Sample {
                        name: "execution_queue",
                        help: "h",
                        labels: vec![("state", "running".to_owned())],
                        value: 2,
                    },
                ]
            })
        }));
        let text = endpoint.render().await;
        assert!(
            text.contains(r#"aerie_grpc_server_requests_total{service="aerie.flow.v1.FlowService",method="GetFlow",code="NotFound"}"#),
            "{text}"
        );
        assert!(text.contains("aerie_grpc_server_request_duration_seconds_bucket{le=\"0.004\",service=\"aerie.flow.v1.FlowService\",method=\"GetFlow\"} 1"), "{text}");
        assert!(text.contains(r#"aerie_execution_state_changes_total{state="SUCCESS"}"#));
        assert!(
            text.contains("aerie_execution_queue{state=\"queued\"} 4"),
            "{text}"
        );
        assert!(text.contains("aerie_execution_queue{state=\"running\"} 2"));
        assert_eq!(
            text.matches("# TYPE aerie_execution_queue gauge").count(),
            1
        );
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}

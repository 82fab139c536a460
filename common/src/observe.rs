//! [`ObserveLayer`]: the outermost layer of every gRPC server. Each call runs
//! in a `grpc` span that continues the caller's trace (`traceparent`
//! metadata), and is counted and timed in [`crate::metrics`].

use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;

/// Traces and measures every gRPC call of a server.
#[derive(Debug, Clone, Copy)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

/// The service [`ObserveLayer`] wraps around a gRPC router.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

/// `/aerie.flow.v1.FlowService/GetFlow` → (`aerie.flow.v1.FlowService`, `GetFlow`).
fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("unknown", "unknown"))
}

/// The grpc-status of a response whose headers carry one (every error of a
/// unary call); a call whose status comes in trailers started as OK.
fn status_of<B>(response: &http::Response<B>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

impl<S, B> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "grpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.grpc.status_code = tracing::field::Empty,
        );
        crate::telemetry::extract(request.headers(), &span);
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(
            async move {
                let response = future.await?;
                let code = status_of(&response);
                tracing::Span::current().record("rpc.grpc.status_code", code as i32);
                // Paths nobody serves are clients' inventions: one label for
                // all of them keeps the label set bounded.
                let (service, method) = match code {
                    tonic::Code::Unimplemented => ("unknown", "unknown"),
                    _ => split_path(&path),
                };
                crate::metrics::instruments().grpc_call(service, method, code, started.elapsed());
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/aerie.flow.v1.FlowService/GetFlow"),
            ("aerie.flow.v1.FlowService", "GetFlow")
        );
        assert_eq!(split_path("/nonsense"), ("unknown", "unknown"));
    }

    #[test]
    fn status_comes_from_headers_or_is_ok() {
        let ok = http::Response::new(());
        assert_eq!(status_of(&ok), tonic::Code::Ok);
        let denied = http::Response::builder()
            .header("grpc-status", "7")
            .body(())
            .expect("response");
        assert_eq!(status_of(&denied), tonic::Code::PermissionDenied);
    }
}

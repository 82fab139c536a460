//! In-process gRPC calls. In a standalone process the gateway and the
//! services call each other through exactly the layers a socket would
//! reach (observe, tenant, auth, router) but without HTTP/2 framing, a
//! loopback socket and the tasks that move frames between them: profiles
//! of a gateway read showed HTTP/2 and the transport taking about a third
//! of its CPU.
//!
//! A process claims its gRPC endpoint ([`InProcess::claim`]) before it
//! opens its services; [`crate::grpc::lazy_channel`] to that endpoint then
//! calls in-process, and the server fills in the service when it starts.
//! Channels to any other endpoint use the network as before.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use tonic::Status;
use tower::ServiceExt;

use crate::auth::layer::AuthMiddleware;
use crate::observe::Observe;
use crate::tenant::TenantMiddleware;

/// A request to a gRPC service, as a client sends it.
pub(crate) type GrpcRequest = http::Request<tonic::body::Body>;

/// A gRPC server's stack, exactly as [`crate::grpc::GrpcServices::serve`]
/// assembles it around its router.
pub(crate) type ServerStack = Observe<TenantMiddleware<AuthMiddleware<tonic::service::Routes>>>;

/// How long a call waits for a server that is still starting; a network
/// channel's connect timeout.
pub(crate) const START_WAIT: Duration = Duration::from_secs(3);

/// The whole-call limit of every channel, network or in-process.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum State {
    Starting,
    Serving(ServerStack),
    Stopped,
}

/// One process's services, as in-process channels see them.
pub(crate) struct Slot {
    state: tokio::sync::watch::Sender<State>,
}

/// Endpoints claimed in this process. Weak: a server that has stopped and
/// dropped its claim leaves the endpoint (and its port) to whoever binds
/// it next.
static CLAIMED: LazyLock<Mutex<HashMap<String, Weak<Slot>>>> = LazyLock::new(Default::default);

/// This process's claim on its own gRPC endpoint; kept by the server while
/// it runs.
pub struct InProcess {
    slot: Arc<Slot>,
}

impl InProcess {
    /// Claims `endpoint` (as the configuration names it, for example
    /// `http://127.0.0.1:9090`) for this process's services: channels
    /// opened to it from now on call in-process.
    pub fn claim(endpoint: &str) -> InProcess {
        let slot = Arc::new(Slot {
            state: tokio::sync::watch::Sender::new(State::Starting),
        });
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        claimed.retain(|_, slot| slot.strong_count() > 0);
        claimed.insert(endpoint.to_owned(), Arc::downgrade(&slot));
        InProcess { slot }
    }

    /// The server is up: calls go to `service`.
    pub(crate) fn serve(&self, service: ServerStack) {
        self.slot.state.send_replace(State::Serving(service));
    }

    /// The server has stopped: calls fail as they would on a closed port.
    pub(crate) fn stop(&self) {
        self.slot.state.send_replace(State::Stopped);
    }
}

/// The services claimed at `endpoint` in this process, if any. Weak, as
/// channels hold it: the services hold channels to each other, and a
/// strong reference would keep a stopped server (and its database pools)
/// alive through that cycle.
pub(crate) fn find(endpoint: &str) -> Option<Weak<Slot>> {
    let claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    claimed
        .get(endpoint)
        .filter(|slot| slot.strong_count() > 0)
        .cloned()
}

/// Calls the services in `slot` as the server would run a request that
/// reached it.
pub(crate) async fn call(
    slot: Weak<Slot>,
    request: GrpcRequest,
) -> Result<http::Response<tonic::body::Body>, Status> {
    let serving = match slot.upgrade() {
        Some(slot) => slot.serving().await,
        None => Err(unavailable()),
    };
    call_service(serving?, request).await
}

impl Slot {
    async fn serving(&self) -> Result<ServerStack, Status> {
        let mut state = self.state.subscribe();
        let ready = state.wait_for(|s| !matches!(s, State::Starting));
        match tokio::time::timeout(START_WAIT, ready).await {
            Ok(Ok(state)) => match &*state {
                State::Serving(service) => Ok(service.clone()),
                State::Starting | State::Stopped => Err(unavailable()),
            },
            Ok(Err(_)) | Err(_) => Err(unavailable()),
        }
    }
}

async fn call_service(
    service: ServerStack,
    request: GrpcRequest,
) -> Result<http::Response<tonic::body::Body>, Status> {
    // A socket is a boundary: nothing the caller put in the request's
    // extensions (a verified caller, say) may reach the service.
    let (mut parts, body) = request.into_parts();
    parts.extensions = http::Extensions::new();
    let request = http::Request::from_parts(parts, body);
    // Its own task, as a server runs each request: a panic fails this
    // call, not the caller, and a call that has started runs to its end
    // even if the caller goes away.
    let task = tokio::spawn(async move { service.oneshot(request).await });
    match tokio::time::timeout(CALL_TIMEOUT, task).await {
        Ok(Ok(Ok(response))) => Ok(response),
        Ok(Ok(Err(never))) => match never {},
        Ok(Err(_panicked)) => Err(Status::internal("the service failed to answer")),
        // What a network channel reports when its timeout passes.
        Err(_) => Err(Status::cancelled("Timeout expired")),
    }
}

fn unavailable() -> Status {
    Status::unavailable("the service is not serving")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_found_only_while_held() {
        let endpoint = "http://127.0.0.1:1";
        let claim = InProcess::claim(endpoint);
        assert!(find(endpoint).is_some());
        assert!(find("http://127.0.0.1:2").is_none());
        drop(claim);
        assert!(find(endpoint).is_none(), "a stopped server's port is free");
    }

    #[tokio::test]
    async fn calls_to_a_stopped_server_are_unavailable() {
        let claim = InProcess::claim("http://127.0.0.1:3");
        let slot = find("http://127.0.0.1:3").expect("claimed");
        claim.stop();
        let status = call(slot, http::Request::new(tonic::body::Body::empty()))
            .await
            .expect_err("stopped");
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }
}

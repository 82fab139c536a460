//! `/health` and the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// How long `/health` waits for each backend.
pub const BACKEND_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Health of the gateway and of the services behind it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// UP when every backend answers SERVING, DOWN otherwise.
    pub status: String,
    /// Each backend service by name: UP or DOWN.
    pub services: std::collections::BTreeMap<String, String>,
}

/// The routes of this module (the OpenAPI document is added by the app).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Readiness of the gateway: UP (200) when every backend service answers
/// its gRPC health check, DOWN (503) otherwise.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (tenant_up, auth_up, flow_up, execution_up) = tokio::join!(
        serving(state.tenant_health.clone(), "aerie.tenant.v1.TenantService"),
        serving(state.auth_health.clone(), "aerie.auth.v1.AuthService"),
        serving(state.flow_health.clone(), "aerie.flow.v1.FlowService"),
        serving(
            state.execution_health.clone(),
            "aerie.execution.v1.ExecutionService"
        ),
    );
    let word = |up: bool| if up { "UP" } else { "DOWN" }.to_owned();
    let all_up = tenant_up && auth_up && flow_up && execution_up;
    let services = [
        ("tenant".to_owned(), word(tenant_up)),
        ("auth".to_owned(), word(auth_up)),
        ("flow".to_owned(), word(flow_up)),
        ("execution".to_owned(), word(execution_up)),
    ]
    .into();
    let code = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Health {
            status: word(all_up),
            services,
        }),
    )
}

/// Whether one backend answers SERVING within the timeout.
async fn serving(
    mut client: tonic_health::pb::health_client::HealthClient<aerie_common::grpc::Channel>,
    service: &str,
) -> bool {
    let check = client.check(HealthCheckRequest {
        service: service.to_owned(),
    });
    matches!(
        tokio::time::timeout(BACKEND_CHECK_TIMEOUT, check).await,
        Ok(Ok(response)) if response.get_ref().status() == ServingStatus::Serving
    )
}

//! What every handler shares: the clients of the backend services, the
//! token verifier and the tenant directory.

use std::sync::Arc;

use aerie_common::auth::TokenVerifier;
use aerie_common::config::Config;
use aerie_common::grpc::Channel;
use aerie_common::grpc::lazy_channel;
use aerie_common::tenant_directory::TenantDirectory;
use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
use aerie_proto::auth::v1::audit_service_client::AuditServiceClient;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use aerie_proto::auth::v1::rbac_service_client::RbacServiceClient;
use aerie_proto::auth::v1::user_service_client::UserServiceClient;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use aerie_proto::execution::v1::webhook_service_client::WebhookServiceClient;
use aerie_proto::flow::v1::flow_service_client::FlowServiceClient;
use aerie_proto::flow::v1::kv_service_client::KvServiceClient;
use aerie_proto::flow::v1::namespace_service_client::NamespaceServiceClient;
use aerie_proto::flow::v1::secret_service_client::SecretServiceClient;
use aerie_proto::flow::v1::trigger_service_client::TriggerServiceClient;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use tonic_health::pb::health_client::HealthClient;

/// Shared state of the gateway. Cloned per request by axum, so it is one
/// pointer: cloning the gRPC clients inside is what costs (each holds a
/// channel handle), and a handler clones only the client it calls.
#[derive(Clone)]
pub struct AppState(Arc<Clients>);

impl std::ops::Deref for AppState {
    type Target = Clients;

    fn deref(&self) -> &Clients {
        &self.0
    }
}

/// The clients and caches behind [`AppState`].
pub struct Clients {
    pub tenants: TenantServiceClient<Channel>,
    pub auth: AuthServiceClient<Channel>,
    /// Access decisions, for pages that show what the caller may do.
    pub access: AuthInternalServiceClient<Channel>,
    pub users: UserServiceClient<Channel>,
    pub rbac: RbacServiceClient<Channel>,
    pub audit: AuditServiceClient<Channel>,
    pub flows: FlowServiceClient<Channel>,
    pub secrets: SecretServiceClient<Channel>,
    pub kv: KvServiceClient<Channel>,
    pub namespaces: NamespaceServiceClient<Channel>,
    pub triggers: TriggerServiceClient<Channel>,
    pub executions: ExecutionServiceClient<Channel>,
    pub webhooks: WebhookServiceClient<Channel>,
    pub tenant_health: HealthClient<Channel>,
    pub auth_health: HealthClient<Channel>,
    pub flow_health: HealthClient<Channel>,
    pub execution_health: HealthClient<Channel>,
    pub verifier: Arc<TokenVerifier>,
    pub directory: TenantDirectory,
    pub max_request_size: usize,
    /// Proves to auth-svc that the client address the gateway reports is
    /// the gateway's own finding.
    pub service_token: String,
    /// Proxies in front of the gateway whose `X-Forwarded-For` is believed.
    pub trusted_proxies: aerie_common::net::TrustedProxies,
    /// Whether the UI's session cookie is `Secure` (`aerie.ui.secure-cookies`).
    pub secure_cookies: bool,
}

impl AppState {
    /// Connects (lazily) to the services named in `config.endpoints`.
    pub fn new(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let trusted_proxies =
            aerie_common::net::TrustedProxies::parse(&config.security.trusted_proxies)
                .map_err(|e| format!("aerie.security.trusted-proxies: {e}"))?;
        let service_token = config.service_token()?;
        let watch = aerie_common::changes::ChangeWatch::for_config(config)
            .map_err(|e| format!("cannot watch for changes: {e}"))?;
        let tenant = lazy_channel(&config.tenant_endpoint())?;
        let auth = lazy_channel(&config.auth_endpoint())?;
        let flow = lazy_channel(&config.flow_endpoint())?;
        let execution = lazy_channel(&config.execution_endpoint())?;
        Ok(AppState(Arc::new(Clients {
            tenants: TenantServiceClient::new(tenant.clone()),
            auth: AuthServiceClient::new(auth.clone()),
            access: AuthInternalServiceClient::new(auth.clone()),
            users: UserServiceClient::new(auth.clone()),
            rbac: RbacServiceClient::new(auth.clone()),
            audit: AuditServiceClient::new(auth.clone()),
            flows: FlowServiceClient::new(flow.clone())
                .max_decoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES)
                .max_encoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES),
            secrets: SecretServiceClient::new(flow.clone()),
            kv: KvServiceClient::new(flow.clone()),
            namespaces: NamespaceServiceClient::new(flow.clone()),
            triggers: TriggerServiceClient::new(flow.clone()),
            executions: ExecutionServiceClient::new(execution.clone())
                .max_decoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES)
                .max_encoding_message_size(aerie_common::grpc::MAX_FILE_MESSAGE_BYTES),
            webhooks: WebhookServiceClient::new(execution.clone()),
            tenant_health: HealthClient::new(tenant.clone()),
            auth_health: HealthClient::new(auth.clone()),
            flow_health: HealthClient::new(flow),
            execution_health: HealthClient::new(execution),
            verifier: Arc::new(TokenVerifier::new(auth, &watch)),
            directory: TenantDirectory::new(config.tenant_policy(), tenant, &watch),
            max_request_size: config.server.max_request_size,
            service_token,
            trusted_proxies,
            secure_cookies: config.ui_secure_cookies(),
        })))
    }
}

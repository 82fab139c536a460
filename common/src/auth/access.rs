//! Authorization decisions, asked of auth-svc and cached briefly with the
//! tenant and the principal in the key, so that a revoked binding or a
//! deleted user stops working everywhere within seconds.

use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use aerie_proto::auth::v1::{CheckAccessRequest, GetGrantedNamespacesRequest};
use moka::future::Cache;
use tonic::Status;
use tonic::transport::Channel;

use super::{Caller, DECISION_TTL};
use crate::tenant::TenantId;

/// What a decision is about; `permission` empty means "use the tenant at all".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    principal: (super::PrincipalKind, std::sync::Arc<str>),
    tenant: TenantId,
    permission: &'static str,
    action: &'static str,
    namespace: Option<String>,
}

/// Where a caller holds a permission inside one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// Every namespace.
    Everywhere,
    /// These namespaces and their children; empty means none.
    Within(Vec<String>),
}

impl NamespaceScope {
    /// Whether `namespace` is inside the scope.
    pub fn covers(&self, namespace: &str) -> bool {
        match self {
            NamespaceScope::Everywhere => true,
            NamespaceScope::Within(scopes) => scopes.iter().any(|scope| {
                namespace == scope
                    || namespace
                        .strip_prefix(scope.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }),
        }
    }
}

/// Asks auth-svc whether callers may act, with a short per-decision cache.
#[derive(Clone)]
pub struct AccessClient {
    auth: AuthServiceClient<Channel>,
    decisions: Cache<DecisionKey, bool>,
}

impl AccessClient {
    pub fn new(channel: Channel) -> AccessClient {
        AccessClient {
            auth: AuthServiceClient::new(channel),
            decisions: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(DECISION_TTL)
                .build(),
        }
    }

    /// Whether `caller` holds `permission:action` in `tenant` (on
    /// `namespace` when given). Empty `permission`: whether it may use the
    /// tenant at all.
    pub async fn allowed(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        permission: &'static str,
        action: &'static str,
        namespace: Option<&str>,
    ) -> Result<bool, Status> {
        let key = DecisionKey {
            principal: (caller.kind, caller.id.clone()),
            tenant: tenant.clone(),
            permission,
            action,
            namespace: namespace.map(str::to_owned),
        };
        if let Some(allowed) = self.decisions.get(&key).await {
            return Ok(allowed);
        }
        let request = caller.request(
            CheckAccessRequest {
                permission: permission.to_owned(),
                action: action.to_owned(),
                namespace: namespace.unwrap_or_default().to_owned(),
            },
            Some(tenant),
        );
        let allowed = self
            .auth
            .clone()
            .check_access(request)
            .await?
            .into_inner()
            .allowed;
        // Only grants are cached: a new binding works at once, a revoked one
        // stops within DECISION_TTL.
        if allowed {
            self.decisions.insert(key, true).await;
        }
        Ok(allowed)
    }

    /// Where `caller` holds `permission:action` in `tenant`, for filtering
    /// listings. Only "everywhere" is cached, like grants in `allowed`.
    pub async fn granted_namespaces(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        permission: &'static str,
        action: &'static str,
    ) -> Result<NamespaceScope, Status> {
        let key = DecisionKey {
            principal: (caller.kind, caller.id.clone()),
            tenant: tenant.clone(),
            permission,
            action,
            namespace: None,
        };
        if self.decisions.get(&key).await == Some(true) {
            return Ok(NamespaceScope::Everywhere);
        }
        let request = caller.request(
            GetGrantedNamespacesRequest {
                permission: permission.to_owned(),
                action: action.to_owned(),
            },
            Some(tenant),
        );
        let granted = self
            .auth
            .clone()
            .get_granted_namespaces(request)
            .await?
            .into_inner();
        if granted.everywhere {
            self.decisions.insert(key, true).await;
            Ok(NamespaceScope::Everywhere)
        } else {
            Ok(NamespaceScope::Within(granted.namespaces))
        }
    }

    /// Like [`AccessClient::allowed`], answering PERMISSION_DENIED when not.
    pub async fn require(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        permission: &'static str,
        action: &'static str,
        namespace: Option<&str>,
    ) -> Result<(), Status> {
        if self
            .allowed(caller, tenant, permission, action, namespace)
            .await?
        {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{} may not {action} {permission} in {tenant}",
                caller.name
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NamespaceScope;

    #[test]
    fn a_scope_covers_its_namespaces_and_their_children_only() {
        let scope = NamespaceScope::Within(vec!["prod".to_owned(), "dev.a".to_owned()]);
        assert!(scope.covers("prod"));
        assert!(scope.covers("prod.team"));
        assert!(scope.covers("dev.a.b"));
        assert!(!scope.covers("production"));
        assert!(!scope.covers("dev"));
        assert!(!NamespaceScope::Within(Vec::new()).covers("prod"));
        assert!(NamespaceScope::Everywhere.covers("anything"));
    }
}

//! Authorization decisions, asked of auth-svc and cached briefly with the
//! tenant and the principal in the key, so that a revoked binding or a
//! deleted user stops working everywhere within seconds.

use crate::grpc::Channel;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use aerie_proto::auth::v1::{CheckAccessRequest, GetGrantedNamespacesRequest};
use moka::future::Cache;
use tonic::Status;

use super::{Caller, DECISION_TTL, Grant};
use crate::tenant::TenantId;

/// What a decision is about; no grant means "use the tenant at all".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    principal: (super::PrincipalKind, std::sync::Arc<str>),
    tenant: TenantId,
    grant: Option<Grant>,
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

/// Whose scope for which permission a cached [`NamespaceScope`] is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ScopeKey {
    principal: (super::PrincipalKind, std::sync::Arc<str>),
    tenant: TenantId,
    grant: Grant,
}

/// Asks auth-svc whether callers may act, with short caches: one entry per
/// decision, and for namespace questions one scope per (principal, tenant,
/// permission), which answers every namespace of the tenant at once.
#[derive(Clone)]
pub struct AccessClient {
    auth: AuthServiceClient<Channel>,
    decisions: Cache<DecisionKey, bool>,
    scopes: Cache<ScopeKey, std::sync::Arc<NamespaceScope>>,
}

impl AccessClient {
    pub fn new(channel: Channel) -> AccessClient {
        AccessClient {
            auth: AuthServiceClient::new(channel),
            decisions: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(DECISION_TTL)
                .build(),
            scopes: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(DECISION_TTL)
                .build(),
        }
    }

    /// Whether `caller` holds `grant` in `tenant` (on `namespace` when given).
    pub async fn allowed(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Grant,
        namespace: Option<&str>,
    ) -> Result<bool, Status> {
        if let Some(namespace) = namespace {
            return self
                .allowed_in_namespace(caller, tenant, grant, namespace)
                .await;
        }
        self.decide(caller, tenant, Some(grant)).await
    }

    /// Whether `caller` may use `tenant` at all (holds any binding there,
    /// or is a super admin).
    pub async fn may_use_tenant(&self, caller: &Caller, tenant: &TenantId) -> Result<bool, Status> {
        self.decide(caller, tenant, None).await
    }

    async fn decide(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Option<Grant>,
    ) -> Result<bool, Status> {
        let key = DecisionKey {
            principal: (caller.kind, caller.id.clone()),
            tenant: tenant.clone(),
            grant,
            namespace: None,
        };
        if let Some(allowed) = self.decisions.get(&key).await {
            return Ok(allowed);
        }
        let request = caller.request(
            CheckAccessRequest {
                permission: grant
                    .map(|g| g.permission().as_str())
                    .unwrap_or_default()
                    .to_owned(),
                action: grant
                    .map(|g| g.action().as_str())
                    .unwrap_or_default()
                    .to_owned(),
                namespace: String::new(),
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

    /// A namespace question, answered from the caller's cached scope when
    /// it covers the namespace. Anything else asks auth-svc afresh, so that a
    /// new binding works at once; a revoked one stops within DECISION_TTL.
    async fn allowed_in_namespace(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Grant,
        namespace: &str,
    ) -> Result<bool, Status> {
        let key = Self::scope_key(caller, tenant, grant);
        if let Some(cached) = self.scopes.get(&key).await
            && cached.covers(namespace)
        {
            return Ok(true);
        }
        let scope = self.fetch_scope(caller, key).await?;
        Ok(scope.covers(namespace))
    }

    /// Where `caller` holds `grant` in `tenant`, for filtering listings. A
    /// cached "everywhere" is used; anything narrower is asked afresh, so
    /// that new bindings show at once.
    pub async fn granted_namespaces(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Grant,
    ) -> Result<NamespaceScope, Status> {
        let key = Self::scope_key(caller, tenant, grant);
        if let Some(cached) = self.scopes.get(&key).await
            && *cached == NamespaceScope::Everywhere
        {
            return Ok(NamespaceScope::Everywhere);
        }
        self.fetch_scope(caller, key).await
    }

    fn scope_key(caller: &Caller, tenant: &TenantId, grant: Grant) -> ScopeKey {
        ScopeKey {
            principal: (caller.kind, caller.id.clone()),
            tenant: tenant.clone(),
            grant,
        }
    }

    async fn fetch_scope(&self, caller: &Caller, key: ScopeKey) -> Result<NamespaceScope, Status> {
        let request = caller.request(
            GetGrantedNamespacesRequest {
                permission: key.grant.permission().as_str().to_owned(),
                action: key.grant.action().as_str().to_owned(),
            },
            Some(&key.tenant),
        );
        let granted = self
            .auth
            .clone()
            .get_granted_namespaces(request)
            .await?
            .into_inner();
        let scope = if granted.everywhere {
            NamespaceScope::Everywhere
        } else {
            NamespaceScope::Within(granted.namespaces)
        };
        self.scopes
            .insert(key, std::sync::Arc::new(scope.clone()))
            .await;
        Ok(scope)
    }

    /// Like [`AccessClient::allowed`], answering PERMISSION_DENIED when not.
    pub async fn require(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Grant,
        namespace: Option<&str>,
    ) -> Result<(), Status> {
        if self.allowed(caller, tenant, grant, namespace).await? {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{} may not {} {} in {tenant}",
                caller.name,
                grant.action().as_str(),
                grant.permission().as_str()
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

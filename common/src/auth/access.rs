//! Authorization decisions, asked of auth-svc and cached with the tenant
//! and the principal in the key until auth-svc announces a change to
//! either (see `changes`), so that a revoked binding or a deleted user
//! stops working everywhere within a second or so, and answers stay cached
//! however many tenants share the traffic.

use std::time::Instant;

use crate::grpc::Channel;
use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
use aerie_proto::auth::internal::v1::{CheckAccessRequest, GetGrantedNamespacesRequest};
use tonic::Status;

use super::{Caller, Grant};
use crate::cache::Cache;
use crate::changes::{Change, ChangeWatch, WATCHED_TTL};
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

/// Asks auth-svc whether callers may act, with caches: one entry per
/// decision, and for namespace questions one scope per (principal, tenant,
/// permission), which answers every namespace of the tenant at once. Each
/// entry keeps when it was asked, for [`ChangeWatch::trusts`].
#[derive(Clone)]
pub struct AccessClient {
    auth: AuthInternalServiceClient<Channel>,
    watch: ChangeWatch,
    decisions: Cache<DecisionKey, Instant>,
    scopes: Cache<ScopeKey, (std::sync::Arc<NamespaceScope>, Instant)>,
}

impl AccessClient {
    /// Asks auth-svc behind `channel`; `watch` says what changed.
    pub fn new(channel: Channel, watch: &ChangeWatch) -> AccessClient {
        let decisions: Cache<DecisionKey, Instant> = Cache::new(200_000, WATCHED_TTL);
        let scopes: Cache<ScopeKey, (std::sync::Arc<NamespaceScope>, Instant)> =
            Cache::new(200_000, WATCHED_TTL);
        {
            let (decisions, scopes) = (decisions.clone(), scopes.clone());
            watch.on_change(move |change| match change {
                Change::Everything => {
                    decisions.invalidate_all();
                    scopes.invalidate_all();
                }
                Change::Tenant(tenant) => {
                    decisions.invalidate_if(|key, _| key.tenant == *tenant);
                    scopes.invalidate_if(|key, _| key.tenant == *tenant);
                }
                Change::Principal(kind, id) => {
                    let p = (*kind, id.clone());
                    decisions.invalidate_if(|key, _| key.principal == p);
                    scopes.invalidate_if(|key, _| key.principal == p);
                }
            });
        }
        AccessClient {
            auth: AuthInternalServiceClient::new(channel),
            watch: watch.clone(),
            decisions,
            scopes,
        }
    }

    /// The cached scope for `key`, if it may still be used.
    async fn cached_scope(&self, key: &ScopeKey) -> Option<std::sync::Arc<NamespaceScope>> {
        self.scopes
            .get(key)
            .filter(|(_, at)| self.watch.trusts(*at))
            .map(|(scope, _)| scope)
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
        if let Some(at) = self.decisions.get(&key)
            && self.watch.trusts(at)
        {
            return Ok(true);
        }
        let epoch = self.watch.epoch();
        let request = caller.request(
            {
                let wire = grant.map(Grant::to_wire).unwrap_or_default();
                CheckAccessRequest {
                    permission: wire.permission,
                    action: wire.action,
                    namespace: String::new(),
                }
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
        // stops when auth-svc announces it. An answer read before a change
        // that arrived meanwhile is not kept.
        if allowed {
            self.decisions
                .insert_if(key, Instant::now(), || self.watch.epoch() == epoch);
        }
        Ok(allowed)
    }

    /// A namespace question, answered from the caller's cached scope when
    /// it covers the namespace. Anything else asks auth-svc afresh, so that a
    /// new binding works at once; a revoked one stops when announced.
    async fn allowed_in_namespace(
        &self,
        caller: &Caller,
        tenant: &TenantId,
        grant: Grant,
        namespace: &str,
    ) -> Result<bool, Status> {
        let key = Self::scope_key(caller, tenant, grant);
        if let Some(cached) = self.cached_scope(&key).await
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
        if let Some(cached) = self.cached_scope(&key).await
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
        let epoch = self.watch.epoch();
        let request = caller.request(
            {
                let wire = key.grant.to_wire();
                GetGrantedNamespacesRequest {
                    permission: wire.permission,
                    action: wire.action,
                }
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
        self.scopes.insert_if(
            key,
            (std::sync::Arc::new(scope.clone()), Instant::now()),
            || self.watch.epoch() == epoch,
        );
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

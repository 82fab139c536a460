//! The gRPC face of flow-svc: decode, authorize the caller in the tenant of
//! the call, run the repository in a tenant transaction, audit, encode.

mod flows;
mod internal;
mod kv;
mod secrets;
mod triggers;

use aerie_common::auth::{AccessClient, Caller, NamespaceScope, caller_of};
use aerie_common::db::TenantTxn;
use aerie_common::tenant::scoped_tenant;
use aerie_common::tenant_directory::TenantDirectory;
use aerie_common::{ServiceError, TenantId, TenantPolicy};
use sea_orm::DatabaseConnection;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::crypto::SecretBox;

/// Implements every flow-svc gRPC service.
#[derive(Clone)]
pub struct FlowApi {
    db: DatabaseConnection,
    policy: TenantPolicy,
    access: AccessClient,
    /// Whether a named tenant still exists: a deleted tenant's data stays
    /// unreachable also for its former members calling this service directly.
    tenants: TenantDirectory,
    secrets: SecretBox,
    /// Admits Aerie's own services to `FlowInternalService`.
    service_token: String,
}

/// Who calls, in which tenant.
struct Call {
    caller: Caller,
    tenant: TenantId,
}

impl FlowApi {
    /// The API over an already migrated database; `auth` reaches auth-svc,
    /// `tenants` tenant-svc.
    pub fn new(
        db: DatabaseConnection,
        policy: TenantPolicy,
        auth: Channel,
        tenants: Channel,
        secrets: SecretBox,
        service_token: String,
    ) -> FlowApi {
        FlowApi {
            db,
            policy,
            access: AccessClient::new(auth),
            tenants: TenantDirectory::for_service(policy, tenants, service_token.clone()),
            secrets,
            service_token,
        }
    }

    /// The database, for the audit relay.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The caller and the tenant of a call; a named tenant must exist.
    async fn call<T>(&self, request: &Request<T>) -> Result<Call, Status> {
        let call = Call {
            caller: caller_of(request)?,
            tenant: scoped_tenant(request, &self.policy)?,
        };
        self.tenants.resolve(&call.tenant, &call.caller).await?;
        Ok(call)
    }

    async fn read(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::read(&self.db, tenant).await?)
    }

    async fn write(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::write(&self.db, tenant).await?)
    }

    /// Requires `permission:action` on `namespace`. A caller who may not use
    /// the tenant at all learns nothing: `missing` describes the resource as
    /// not found, whether or not it exists.
    async fn authorize(
        &self,
        call: &Call,
        permission: &'static str,
        action: &'static str,
        namespace: &str,
        missing: impl FnOnce() -> String,
    ) -> Result<(), Status> {
        let allowed = self
            .access
            .allowed(
                &call.caller,
                &call.tenant,
                permission,
                action,
                Some(namespace),
            )
            .await?;
        if allowed {
            return Ok(());
        }
        Err(self
            .denial(call, permission, action, namespace, missing)
            .await)
    }

    async fn denial(
        &self,
        call: &Call,
        permission: &'static str,
        action: &'static str,
        namespace: &str,
        missing: impl FnOnce() -> String,
    ) -> Status {
        match self
            .access
            .allowed(&call.caller, &call.tenant, "", "", None)
            .await
        {
            Ok(true) => Status::permission_denied(format!(
                "{} may not {action} {permission} in namespace {namespace} of {}",
                call.caller.name, call.tenant
            )),
            Ok(false) => Status::not_found(missing()),
            Err(status) => status,
        }
    }

    /// The caller may use the tenant at all; otherwise the tenant is "not
    /// found", exactly like one that does not exist.
    async fn require_tenant_use(&self, call: &Call) -> Result<(), Status> {
        if self
            .access
            .allowed(&call.caller, &call.tenant, "", "", None)
            .await?
        {
            Ok(())
        } else {
            Err(Status::not_found(format!("{} not found", call.tenant)))
        }
    }

    /// Where the caller may use `permission:action`, for listings; nowhere
    /// at all is a denial like [`FlowApi::authorize`]'s.
    async fn scope(
        &self,
        call: &Call,
        permission: &'static str,
        action: &'static str,
    ) -> Result<NamespaceScope, Status> {
        let scope = self
            .access
            .granted_namespaces(&call.caller, &call.tenant, permission, action)
            .await?;
        if scope == NamespaceScope::Within(Vec::new()) {
            let tenant = call.tenant.clone();
            return Err(self
                .denial(call, permission, action, "any", || {
                    format!("{tenant} not found")
                })
                .await);
        }
        Ok(scope)
    }
}

impl FlowApi {
    /// Audits a change of a secret or KV entry (its key, never its value).
    async fn audit_entry(
        &self,
        tx: &TenantTxn,
        call: &Call,
        resource_type: &'static str,
        namespace: &crate::domain::Namespace,
        key: &crate::domain::EntryKey,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        let entry = aerie_common::audit::AuditEntry::new(
            &call.tenant,
            resource_type,
            format!("{namespace}/{key}"),
            action,
            &*call.caller.name,
        )
        .with_details(serde_json::json!({"namespace": namespace.as_str(), "key": key.as_str()}));
        Ok(aerie_common::audit::enqueue(tx.conn(), entry).await?)
    }
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(aerie_common::time::to_timestamp(time))
}

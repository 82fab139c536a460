//! The gRPC face of flow-svc: decode, authorize the caller in the tenant of
//! the call, run the repository in a tenant transaction, audit, encode.

mod flows;
mod import;
mod internal;
mod kv;
mod namespaces;
mod secrets;
mod triggers;

use aerie_common::auth::TenantGuard;
use aerie_common::db::TenantTxn;
use aerie_common::grpc::Channel;
use aerie_common::{ServiceError, TenantId, TenantPolicy};
use sea_orm::DatabaseConnection;

use aerie_common::crypto::SecretBox;

/// Implements every flow-svc gRPC service.
#[derive(Clone)]
pub struct FlowApi {
    db: DatabaseConnection,
    policy: TenantPolicy,
    guard: TenantGuard,
    secrets: SecretBox,
    /// Admits Aerie's own services to `FlowInternalService`.
    service_token: String,
    /// Changed triggers, for the schedulers (set when served).
    changes: Option<aerie_common::changes::ChangeFeed>,
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
        watch: &aerie_common::changes::ChangeWatch,
    ) -> FlowApi {
        FlowApi {
            db,
            policy,
            guard: TenantGuard::new(policy, auth, tenants, service_token.clone(), watch),
            secrets,
            service_token,
            changes: None,
        }
    }

    /// Serves the stream of trigger changes until `stopping`.
    pub fn announcing_changes(mut self, stopping: tokio_util::sync::CancellationToken) -> Self {
        self.changes = Some(aerie_common::changes::ChangeFeed::start(
            self.db.clone(),
            stopping,
        ));
        self
    }

    /// The database, for the audit relay.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// What seals this instance's secrets.
    pub(crate) fn secret_box(&self) -> &SecretBox {
        &self.secrets
    }

    /// The internal service credential and the tenant policy, for the
    /// calls only Aerie's own services make.
    pub(crate) fn internal_check(&self) -> (&str, &TenantPolicy) {
        (&self.service_token, &self.policy)
    }

    async fn read(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::read(&self.db, tenant).await?)
    }

    async fn write(&self, tenant: &TenantId) -> Result<TenantTxn, ServiceError> {
        Ok(TenantTxn::write(&self.db, tenant).await?)
    }
}

impl FlowApi {
    /// Audits a change of a secret or KV entry (its key, never its value).
    async fn audit_entry(
        &self,
        tx: &TenantTxn,
        actor: &str,
        resource_type: &'static str,
        namespace: &crate::domain::Namespace,
        key: &crate::domain::EntryKey,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        let entry = aerie_common::audit::AuditEntry::new(
            tx.tenant(),
            resource_type,
            format!("{namespace}/{key}"),
            action,
            actor,
        )
        .with_details(serde_json::json!({"namespace": namespace.as_str(), "key": key.as_str()}));
        Ok(aerie_common::audit::enqueue(tx.conn(), entry).await?)
    }
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(aerie_common::time::to_timestamp(time))
}

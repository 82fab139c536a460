//! `aerie.auth.v1.AuditService`: entries delivered by the other services'
//! outboxes, and each tenant's audit log.

use aerie_common::db::SharedTxn;
use aerie_proto::auth::v1::audit_service_server::AuditService;

use super::*;

#[tonic::async_trait]
impl AuditService for AuthApi {
    async fn record_audit_entries(
        &self,
        request: Request<pb::RecordAuditEntriesRequest>,
    ) -> Result<Response<pb::RecordAuditEntriesResponse>, Status> {
        self.require_service(&request)?;
        // Every entry is checked before anything is written: a bad one
        // refuses the batch, which its outbox keeps.
        let mut by_tenant: std::collections::BTreeMap<TenantId, Vec<repo::audit_logs::Model>> =
            Default::default();
        for entry in request.into_inner().entries {
            let tenant = if entry.tenant.is_empty() {
                TenantId::default_tenant()
            } else {
                TenantId::parse(&entry.tenant)
                    .map_err(|e| Status::invalid_argument(e.to_string()))?
            };
            let row = repo::audit_logs::Model {
                id: entry.id,
                tenant: tenant.storage_key().to_owned(),
                resource_type: entry.resource_type,
                resource_id: entry.resource_id,
                action: entry.action,
                actor: entry.actor,
                time: aerie_common::time::from_timestamp(entry.time.as_ref())
                    .unwrap_or_else(repo::now),
                details: entry.details,
            };
            by_tenant.entry(tenant).or_default().push(row);
        }
        // One commit for the batch; each tenant's entries in a part bound
        // to that tenant, since row-level security admits them only there.
        // Entries are stored once by id, so a batch sent again after a
        // failure stores only what is missing.
        let shared = SharedTxn::write(&self.core.db)
            .await
            .map_err(ServiceError::from)?;
        let mut stored = 0;
        for (tenant, rows) in by_tenant {
            let part = TenantTxn::within(&shared, &tenant)
                .await
                .map_err(ServiceError::from)?;
            stored += repo::insert_audits(&part, rows)
                .await
                .map_err(ServiceError::from)?;
            part.commit().await.map_err(ServiceError::from)?;
        }
        shared.commit().await.map_err(ServiceError::from)?;
        let stored = u32::try_from(stored).unwrap_or(u32::MAX);
        Ok(Response::new(pb::RecordAuditEntriesResponse { stored }))
    }

    async fn search_audit_logs(
        &self,
        request: Request<pb::SearchAuditLogsRequest>,
    ) -> Result<Response<pb::SearchAuditLogsResponse>, Status> {
        let (tenant, _) = self
            .authorize(&request, Permission::Auditlog, Action::Read)
            .await?;
        let body = request.into_inner();
        let page = PageRequest::new(body.page, body.size)?;
        let filter = |text: &str| (!text.is_empty()).then_some(text.to_owned());
        let (rows, total) = repo::search_audit(
            &self.read(&tenant).await?,
            filter(&body.resource_type).as_deref(),
            filter(&body.resource_id).as_deref(),
            page,
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SearchAuditLogsResponse {
            results: rows
                .into_iter()
                .map(|row| pb::AuditEntry {
                    id: row.id,
                    tenant: tenant.as_named().unwrap_or_default().to_owned(),
                    resource_type: row.resource_type,
                    resource_id: row.resource_id,
                    action: row.action,
                    actor: row.actor,
                    time: Some(timestamp(row.time)),
                    details: row.details,
                })
                .collect(),
            total,
        }))
    }
}

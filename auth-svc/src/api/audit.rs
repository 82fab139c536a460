//! `aerie.auth.v1.AuditService`: entries delivered by the other services'
//! outboxes, and each tenant's audit log.

use aerie_proto::auth::v1::audit_service_server::AuditService;

use super::*;

#[tonic::async_trait]
impl AuditService for AuthApi {
    async fn record_audit_entries(
        &self,
        request: Request<pb::RecordAuditEntriesRequest>,
    ) -> Result<Response<pb::RecordAuditEntriesResponse>, Status> {
        self.require_service(&request)?;
        let mut stored = 0;
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
            // Each entry in its own tenant's transaction: row-level
            // security admits it only there.
            let tx = self.begin(&tenant).await?;
            let new = repo::insert_audit(&tx, row)
                .await
                .map_err(ServiceError::from)?;
            tx.commit().await.map_err(ServiceError::from)?;
            if new {
                stored += 1;
            }
        }
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

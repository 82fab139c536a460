//! `aerie.auth.v1.AuditService`: each tenant's audit log (entries arrive
//! through `AuthInternalService/RecordAuditEntries`).

use aerie_proto::auth::v1::audit_service_server::AuditService;

use super::*;

#[tonic::async_trait]
impl AuditService for AuthApi {
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
                    details: aerie_proto::wire::struct_from_text(&row.details),
                })
                .collect(),
            total,
        }))
    }
}

//! `TenantService/ExportTenant` and `ImportTenant`: the super admin's
//! tenant archives on a running instance, the same archives as `aerie
//! tenants export` and `import`. tenant-svc puts the tenant's own record
//! in; each other service hands out (or takes in) its own part over its
//! internal transfer service, so that every schema stays its owner's.

use aerie_common::audit::service_request;
use aerie_common::auth::caller_of;
use aerie_common::grpc::Channel;
use aerie_common::quota::QuotaOverrides;
use aerie_common::transfer::{Archive, EntryCollector, TENANT_ENTRY, part_messages};
use aerie_common::{ServiceError, TenantId};
use aerie_proto::tenant::v1 as pb;
use aerie_proto::transfer::v1 as part_pb;
use aerie_proto::transfer::v1::auth_transfer_service_client::AuthTransferServiceClient;
use aerie_proto::transfer::v1::execution_transfer_service_client::ExecutionTransferServiceClient;
use aerie_proto::transfer::v1::flow_transfer_service_client::FlowTransferServiceClient;
use tonic::{Request, Response, Status};

use crate::TenantApi;
use crate::repo;

/// The services that hold a part of each tenant.
#[derive(Clone)]
pub struct Parts {
    pub auth: Channel,
    pub flow: Channel,
    pub execution: Channel,
}

/// The archive's bytes, streamed out.
pub type ChunkStream = tokio_stream::wrappers::ReceiverStream<Result<pb::ArchiveChunk, Status>>;

/// What each service's part of an archive is named under.
const AUTH: &[&str] = &["auth/"];
const FLOW: &[&str] = &["flow/"];
const EXECUTION: &[&str] = &["execution/", "storage/"];

fn damaged(err: aerie_common::transfer::TransferError) -> Status {
    Status::invalid_argument(err.to_string())
}

impl TenantApi {
    fn parts(&self) -> Result<&Parts, Status> {
        self.parts
            .as_ref()
            .ok_or_else(|| Status::unavailable("tenant archives are not served by this process"))
    }

    /// Only the super admin exports and imports tenants.
    async fn require_super_admin<T>(&self, request: &Request<T>) -> Result<String, Status> {
        self.require_multi_tenancy()?;
        let caller = caller_of(request)?;
        if !self.me(&caller).await?.super_admin {
            return Err(Status::permission_denied(
                "only a super admin may export or import a tenant",
            ));
        }
        Ok(caller.name.to_string())
    }

    pub(crate) async fn export_archive(
        &self,
        request: Request<pb::ExportTenantRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        self.require_super_admin(&request).await?;
        let body = request.into_inner();
        let id = TenantId::parse(&body.id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let tenant = repo::find_live(&self.db, &id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| Status::not_found(format!("tenant {id} not found")))?;
        let mut archive = Archive::new(id.storage_key(), &tenant.name);
        archive.put(
            TENANT_ENTRY,
            serde_json::to_vec(&serde_json::json!({"name": tenant.name, "quotas": tenant.quotas}))
                .map_err(|e| Status::internal(e.to_string()))?,
        );
        let parts = self.parts()?.clone();
        let ask = || {
            service_request(
                part_pb::ExportPartRequest {
                    transfer_key: body.transfer_key.clone(),
                },
                &id,
                &self.service_token,
            )
        };
        let mut collector = EntryCollector::default();
        let streams = [
            AuthTransferServiceClient::new(parts.auth)
                .export_part(ask())
                .await?
                .into_inner(),
            FlowTransferServiceClient::new(parts.flow)
                .export_part(ask())
                .await?
                .into_inner(),
            ExecutionTransferServiceClient::new(parts.execution)
                .export_part(ask())
                .await?
                .into_inner(),
        ];
        for mut stream in streams {
            while let Some(entry) = stream.message().await? {
                collector.push(&mut archive, entry).map_err(damaged)?;
            }
        }
        collector.finish().map_err(damaged)?;
        archive.manifest.sealed_secrets = archive.count_rows("flow/secrets.jsonl");
        let bytes = archive
            .to_bytes()
            .map_err(|e| Status::internal(e.to_string()))?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for data in bytes.chunks(1 << 20) {
                let chunk = pb::ArchiveChunk {
                    data: data.to_vec(),
                };
                if sender.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        tracing::info!(tenant = %id, "tenant exported");
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }

    pub(crate) async fn import_archive(
        &self,
        request: Request<tonic::Streaming<pb::ImportTenantChunk>>,
    ) -> Result<Response<pb::ImportTenantResponse>, Status> {
        use pb::import_tenant_chunk::Part;
        let actor = self.require_super_admin(&request).await?;
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(pb::ImportTenantChunk {
                part: Some(Part::Header(header)),
            }) => header,
            _ => {
                return Err(Status::invalid_argument(
                    "an import starts with its header (the new tenant's id)",
                ));
            }
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await? {
            match chunk.part {
                Some(Part::Data(data)) => {
                    bytes.extend_from_slice(&data);
                    if bytes.len() as u64 > aerie_common::transfer::MAX_ARCHIVE_BYTES {
                        return Err(Status::invalid_argument("the archive is too large"));
                    }
                }
                _ => return Err(Status::invalid_argument("one header per import")),
            }
        }
        // Checked whole before anything is written.
        let archive = Archive::from_bytes(&bytes).map_err(damaged)?;
        drop(bytes);
        let record: serde_json::Value = archive
            .get(TENANT_ENTRY)
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| Status::invalid_argument("the archive has no tenant record"))?;
        let quotas: QuotaOverrides =
            serde_json::from_value(record["quotas"].clone()).unwrap_or_default();
        let name = match header.name.trim() {
            "" => archive.manifest.name.clone(),
            given => given.to_owned(),
        };
        let created = self.create(&header.id, &name, &actor).await?;
        let tenant = TenantId::parse(&created.id).map_err(|e| Status::internal(e.to_string()))?;
        match self
            .import_parts(&tenant, &archive, &header, &quotas, &actor)
            .await
        {
            Ok((tenant, notes)) => {
                tracing::info!(tenant = %header.id, "tenant imported");
                Ok(Response::new(pb::ImportTenantResponse {
                    tenant: Some(tenant.into()),
                    notes,
                }))
            }
            Err(status) => {
                // Nothing of a refused import stays.
                let parts = self.parts()?.clone();
                let remove =
                    || service_request(part_pb::RemovePartRequest {}, &tenant, &self.service_token);
                let _ = ExecutionTransferServiceClient::new(parts.execution)
                    .remove_part(remove())
                    .await;
                let _ = AuthTransferServiceClient::new(parts.auth)
                    .remove_part(remove())
                    .await;
                let _ = FlowTransferServiceClient::new(parts.flow)
                    .remove_part(remove())
                    .await;
                let _ = self.remove_unfinished(&header.id, &actor).await;
                Err(status)
            }
        }
    }

    /// Each service's part written into `tenant`; the tenant with its
    /// quotas, and what was left out.
    async fn import_parts(
        &self,
        tenant: &TenantId,
        archive: &Archive,
        header: &pb::ImportTenantHeader,
        quotas: &QuotaOverrides,
        actor: &str,
    ) -> Result<(crate::domain::Tenant, Vec<String>), Status> {
        let with_quotas = self.set_quotas(tenant, quotas, actor).await?;
        let parts = self.parts()?.clone();
        let part_header = part_pb::ImportPartHeader {
            source_tenant: archive.manifest.tenant.clone(),
            transfer_key: header.transfer_key.clone(),
        };
        let send = |prefixes: &[&str]| {
            service_request(
                tokio_stream::iter(part_messages(archive, part_header.clone(), prefixes)),
                tenant,
                &self.service_token,
            )
        };
        let mut notes = Vec::new();
        // Secrets first: a wrong key stops the import before the rest.
        notes.extend(
            FlowTransferServiceClient::new(parts.flow)
                .import_part(send(FLOW))
                .await?
                .into_inner()
                .notes,
        );
        notes.extend(
            AuthTransferServiceClient::new(parts.auth)
                .import_part(send(AUTH))
                .await?
                .into_inner()
                .notes,
        );
        notes.extend(
            ExecutionTransferServiceClient::new(parts.execution)
                .import_part(send(EXECUTION))
                .await?
                .into_inner()
                .notes,
        );
        Ok((with_quotas, notes))
    }
}

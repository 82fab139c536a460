//! `TenantService/ExportTenant` and `ImportTenant`: the super admin's
//! tenant archives on a running instance, the same archives as `aerie
//! tenants export` and `import`. tenant-svc puts the tenant's own record
//! in; each other service hands out (or takes in) its own part over its
//! internal transfer service, so that every schema stays its owner's.

use aerie_common::audit::service_request;
use aerie_common::auth::caller_of;
use aerie_common::grpc::Channel;
use aerie_common::quota::QuotaOverrides;
use aerie_common::transfer::{
    Archive, EntryCollector, MAX_API_ARCHIVE_BYTES, TENANT_ENTRY, part_stream,
};
use aerie_common::{ServiceError, TenantId};
use aerie_proto::tenant::v1 as pb;
use aerie_proto::transfer::internal::v1 as part_pb;
use aerie_proto::transfer::internal::v1::auth_transfer_service_client::AuthTransferServiceClient;
use aerie_proto::transfer::internal::v1::execution_transfer_service_client::ExecutionTransferServiceClient;
use aerie_proto::transfer::internal::v1::flow_transfer_service_client::FlowTransferServiceClient;
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
        let actor = self.require_super_admin(&request).await?;
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
        // The super admin sees no tenant's data through the API; an export
        // is the exception, so it is on the tenant's record.
        self.record_export(&id, archive.manifest.entries.len(), &actor)
            .await?;
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
        request: Request<tonic::Streaming<pb::ImportTenantRequest>>,
    ) -> Result<Response<pb::ImportTenantResponse>, Status> {
        use pb::import_tenant_request::Part;
        let actor = self.require_super_admin(&request).await?;
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(pb::ImportTenantRequest {
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
                    if bytes.len() as u64 > MAX_API_ARCHIVE_BYTES {
                        return Err(Status::invalid_argument(format!(
                            "the archive is larger than {MAX_API_ARCHIVE_BYTES} bytes, the most the API takes (use the CLI)"
                        )));
                    }
                }
                _ => return Err(Status::invalid_argument("one header per import")),
            }
        }
        // Checked whole before anything is written.
        let archive = Archive::from_bytes(&bytes, MAX_API_ARCHIVE_BYTES).map_err(damaged)?;
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
        let tenant = self.reserve_for_import(&header.id, &name, &actor).await?;
        // Its own task: a caller that goes away does not stop the import
        // half-way, nor its undoing.
        let api = self.clone();
        let archive = std::sync::Arc::new(archive);
        let work = tokio::spawn(async move {
            match api.import_parts(&tenant, archive.clone(), &header).await {
                Ok(notes) => {
                    let source = archive.manifest.tenant.clone();
                    let tenant = api
                        .reveal_imported(&tenant, &quotas, &source, &actor)
                        .await?;
                    Ok(pb::ImportTenantResponse {
                        tenant: Some(tenant.into()),
                        notes,
                    })
                }
                Err(status) => {
                    api.remove_parts(&tenant).await;
                    let _ = api.abandon_import(&tenant, status.message(), &actor).await;
                    Err(status)
                }
            }
        });
        let answer = work
            .await
            .map_err(|e| Status::internal(format!("the import stopped: {e}")))??;
        Ok(Response::new(answer))
    }

    /// Removes what an import wrote in every other service (best effort:
    /// the tenant stays deleted whatever is left).
    async fn remove_parts(&self, tenant: &TenantId) {
        let Ok(parts) = self.parts().cloned() else {
            return;
        };
        let remove = || service_request(part_pb::RemovePartRequest {}, tenant, &self.service_token);
        let _ = ExecutionTransferServiceClient::new(parts.execution)
            .remove_part(remove())
            .await;
        let _ = AuthTransferServiceClient::new(parts.auth)
            .remove_part(remove())
            .await;
        let _ = FlowTransferServiceClient::new(parts.flow)
            .remove_part(remove())
            .await;
    }

    /// Each service's part written into `tenant`; what was left out.
    async fn import_parts(
        &self,
        tenant: &TenantId,
        archive: std::sync::Arc<Archive>,
        header: &pb::ImportTenantHeader,
    ) -> Result<Vec<String>, Status> {
        let parts = self.parts()?.clone();
        let part_header = part_pb::ImportPartHeader {
            source_tenant: archive.manifest.tenant.clone(),
            transfer_key: header.transfer_key.clone(),
        };
        let send = |prefixes: &'static [&'static str]| {
            service_request(
                part_stream(archive.clone(), part_header.clone(), prefixes),
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
        Ok(notes)
    }
}

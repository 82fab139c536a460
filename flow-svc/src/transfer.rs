//! flow-svc's part of a tenant archive: flows with every revision, their
//! labels and triggers, KV entries, namespace settings, disabled triggers
//! and secrets. Secrets leave sealed under the operator's transfer key,
//! never in clear and never under this instance's master key, and come in
//! only with that key; the tenant's id is part of what seals a secret, so
//! each is sealed again for the tenant it lands in.

use aerie_common::TenantId;
use aerie_common::audit::require_service_token;
use aerie_common::db::TenantTxn;
use aerie_common::tenant::scoped_tenant;
use aerie_common::transfer::{
    Archive, EntryStream, delete_tenant_rows, insert_rows, part_status, receive_part,
    stream_entries, tenant_rows,
};
use aerie_proto::transfer::internal::v1 as pb;
use sea_orm::{DbErr, IntoActiveModel};
use tonic::{Request, Response, Status};

use crate::FlowApi;
use crate::repo::entities::{
    disabled_triggers, flow_labels, flow_revisions, flows, kv_entries, namespace_settings, secrets,
    triggers,
};
use aerie_common::crypto::SecretBox;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const FLOWS: &str = "flow/flows.jsonl";
const REVISIONS: &str = "flow/flow_revisions.jsonl";
const LABELS: &str = "flow/flow_labels.jsonl";
const TRIGGERS: &str = "flow/triggers.jsonl";
const SECRETS: &str = "flow/secrets.jsonl";
const KV: &str = "flow/kv_entries.jsonl";
const SETTINGS: &str = "flow/namespace_settings.jsonl";
const DISABLED: &str = "flow/disabled_triggers.jsonl";

impl FlowApi {
    /// Adds the tenant's flow-svc rows to `archive`; its secrets sealed
    /// under `transfer_key` (refused without one when there are any).
    pub async fn export_tenant(
        &self,
        tenant: &TenantId,
        archive: &mut Archive,
        transfer_key: Option<&SecretBox>,
    ) -> Result<(), BoxError> {
        let tx = TenantTxn::read(self.db(), tenant).await?;
        archive.put_rows(
            FLOWS,
            &tenant_rows::<flows::Entity>(&tx, flows::Column::TenantId).await?,
        )?;
        archive.put_rows(
            REVISIONS,
            &tenant_rows::<flow_revisions::Entity>(&tx, flow_revisions::Column::TenantId).await?,
        )?;
        archive.put_rows(
            LABELS,
            &tenant_rows::<flow_labels::Entity>(&tx, flow_labels::Column::TenantId).await?,
        )?;
        archive.put_rows(
            TRIGGERS,
            &tenant_rows::<triggers::Entity>(&tx, triggers::Column::TenantId).await?,
        )?;
        archive.put_rows(
            KV,
            &tenant_rows::<kv_entries::Entity>(&tx, kv_entries::Column::TenantId).await?,
        )?;
        archive.put_rows(
            SETTINGS,
            &tenant_rows::<namespace_settings::Entity>(&tx, namespace_settings::Column::TenantId)
                .await?,
        )?;
        archive.put_rows(
            DISABLED,
            &tenant_rows::<disabled_triggers::Entity>(&tx, disabled_triggers::Column::TenantId)
                .await?,
        )?;
        let mut sealed = tenant_rows::<secrets::Entity>(&tx, secrets::Column::TenantId).await?;
        tx.commit().await?;
        if !sealed.is_empty() {
            let Some(key) = transfer_key else {
                return Err(format!(
                    "the tenant has {} secrets: give a transfer key (--secrets-key-file, or the x-aerie-transfer-key header) to carry them, sealed under it",
                    sealed.len()
                )
                .into());
            };
            for row in &mut sealed {
                let value = self
                    .secret_box()
                    .open(tenant, &row.namespace, &row.key, &row.sealed)
                    .map_err(|e| format!("secret {}/{}: {e}", row.namespace, row.key))?;
                row.sealed = key.seal(tenant, &row.namespace, &row.key, &value);
            }
        }
        archive.manifest.sealed_secrets = sealed.len();
        archive.put_rows(SECRETS, &sealed)?;
        Ok(())
    }

    /// Writes the archive's flow-svc rows into `tenant`, in one
    /// transaction. Every secret is opened first, so a wrong key writes
    /// nothing.
    pub async fn import_tenant(
        &self,
        tenant: &TenantId,
        source: &TenantId,
        archive: &Archive,
        transfer_key: Option<&SecretBox>,
    ) -> Result<(), BoxError> {
        let mut sealed: Vec<secrets::Model> = archive.rows(SECRETS)?;
        if !sealed.is_empty() {
            let Some(key) = transfer_key else {
                return Err(format!(
                    "the archive holds {} secrets: give the transfer key they were sealed with (--secrets-key-file, or the x-aerie-transfer-key header)",
                    sealed.len()
                )
                .into());
            };
            for row in &mut sealed {
                let value = key
                    .open(source, &row.namespace, &row.key, &row.sealed)
                    .map_err(|_| {
                        format!(
                            "secret {}/{} does not open with this transfer key",
                            row.namespace, row.key
                        )
                    })?;
                row.sealed = self
                    .secret_box()
                    .seal(tenant, &row.namespace, &row.key, &value);
            }
        }
        let flows: Vec<flows::Model> = archive.rows(FLOWS)?;
        let revisions: Vec<flow_revisions::Model> = archive.rows(REVISIONS)?;
        let labels: Vec<flow_labels::Model> = archive.rows(LABELS)?;
        let triggers: Vec<triggers::Model> = archive.rows(TRIGGERS)?;
        let kv: Vec<kv_entries::Model> = archive.rows(KV)?;
        let settings: Vec<namespace_settings::Model> = archive.rows(SETTINGS)?;
        let disabled: Vec<disabled_triggers::Model> = archive.rows(DISABLED)?;
        let tx = TenantTxn::write(self.db(), tenant).await?;
        let key = tx.tenant_key().to_owned();
        macro_rules! insert {
            ($rows:expr) => {
                insert_rows(
                    &tx,
                    $rows
                        .into_iter()
                        .map(|mut row| {
                            row.tenant_id = key.clone();
                            row.into_active_model()
                        })
                        .collect(),
                )
                .await?
            };
        }
        insert!(flows);
        insert!(revisions);
        insert!(labels);
        insert!(triggers);
        insert!(kv);
        insert!(settings);
        insert!(disabled);
        insert!(sealed);
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every flow-svc row of `tenant`.
    pub async fn remove_tenant_data(&self, tenant: &TenantId) -> Result<(), DbErr> {
        let tx = TenantTxn::write(self.db(), tenant).await?;
        delete_tenant_rows::<flows::Entity>(&tx, flows::Column::TenantId).await?;
        delete_tenant_rows::<flow_revisions::Entity>(&tx, flow_revisions::Column::TenantId).await?;
        delete_tenant_rows::<flow_labels::Entity>(&tx, flow_labels::Column::TenantId).await?;
        delete_tenant_rows::<triggers::Entity>(&tx, triggers::Column::TenantId).await?;
        delete_tenant_rows::<kv_entries::Entity>(&tx, kv_entries::Column::TenantId).await?;
        delete_tenant_rows::<namespace_settings::Entity>(&tx, namespace_settings::Column::TenantId)
            .await?;
        delete_tenant_rows::<disabled_triggers::Entity>(&tx, disabled_triggers::Column::TenantId)
            .await?;
        delete_tenant_rows::<secrets::Entity>(&tx, secrets::Column::TenantId).await?;
        tx.commit().await
    }
}

#[tonic::async_trait]
impl pb::flow_transfer_service_server::FlowTransferService for FlowApi {
    type ExportPartStream = EntryStream;

    async fn export_part(
        &self,
        request: Request<pb::ExportPartRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let (token, policy) = self.internal_check();
        require_service_token(&request, token)?;
        let tenant = scoped_tenant(&request, policy)?;
        let key = aerie_common::transfer::transfer_key_of(&request.get_ref().transfer_key)?;
        let mut archive = Archive::new(tenant.storage_key(), "");
        self.export_tenant(&tenant, &mut archive, key.as_ref())
            .await
            .map_err(part_status)?;
        Ok(Response::new(stream_entries(archive)))
    }

    async fn import_part(
        &self,
        request: Request<tonic::Streaming<pb::ImportPartRequest>>,
    ) -> Result<Response<pb::ImportPartResponse>, Status> {
        let (token, policy) = self.internal_check();
        require_service_token(&request, token)?;
        let tenant = scoped_tenant(&request, policy)?;
        let (header, archive) = receive_part(request.into_inner()).await?;
        let source = TenantId::from_storage_key(&header.source_tenant)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let key = aerie_common::transfer::transfer_key_of(&header.transfer_key)?;
        self.import_tenant(&tenant, &source, &archive, key.as_ref())
            .await
            .map_err(part_status)?;
        Ok(Response::new(pb::ImportPartResponse { notes: Vec::new() }))
    }

    async fn remove_part(
        &self,
        request: Request<pb::RemovePartRequest>,
    ) -> Result<Response<pb::RemovePartResponse>, Status> {
        let (token, policy) = self.internal_check();
        require_service_token(&request, token)?;
        let tenant = scoped_tenant(&request, policy)?;
        self.remove_tenant_data(&tenant)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::RemovePartResponse {}))
    }
}

//! Aerie's wire contract, generated from `proto/` at build time with protox
//! (no system `protoc`), plus the encoded descriptor set that server
//! reflection publishes.

/// Every Aerie proto file and its imports, encoded as a `FileDescriptorSet`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/aerie_descriptor.bin"));

/// `aerie.changes.v1`: change notices between Aerie's own services.
pub mod changes {
    pub mod v1 {
        tonic::include_proto!("aerie.changes.v1");
    }
}

/// `aerie.tenant.v1`: tenants.
pub mod tenant {
    pub mod v1 {
        tonic::include_proto!("aerie.tenant.v1");
    }
}

/// `aerie.auth.v1`: users, tokens, RBAC.
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("aerie.auth.v1");
    }
}

/// `google.api`: the HTTP mapping option carried by every RPC.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

/// `aerie.flow.v1`: flows, revisions, secrets, KV, trigger definitions.
pub mod flow {
    pub mod v1 {
        tonic::include_proto!("aerie.flow.v1");
    }
}

/// `aerie.execution.v1`: executions, task runs, logs, files, webhooks.
pub mod execution {
    pub mod v1 {
        tonic::include_proto!("aerie.execution.v1");
    }
}

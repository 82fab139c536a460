//! Aerie's wire contract, generated from `proto/` at build time with protox
//! (no system `protoc`), plus the encoded descriptor set that server
//! reflection publishes.

pub mod wire;

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

/// `aerie.transfer.v1`: each service's part of a tenant archive.
pub mod transfer {
    pub mod v1 {
        tonic::include_proto!("aerie.transfer.v1");
    }
}

/// The services a client may call from outside: the public gRPC endpoint
/// (the gateway's gRPC port) forwards these and server reflection lists
/// them. Everything else in the descriptor set is Aerie's own plumbing.
pub const PUBLIC_SERVICES: &[&str] = &[
    "aerie.tenant.v1.TenantService",
    "aerie.auth.v1.AuthService",
    "aerie.auth.v1.UserService",
    "aerie.auth.v1.AuditService",
    "aerie.auth.v1.RbacService",
    "aerie.flow.v1.FlowService",
    "aerie.flow.v1.SecretService",
    "aerie.flow.v1.KvService",
    "aerie.flow.v1.NamespaceService",
    "aerie.flow.v1.TriggerService",
    "aerie.execution.v1.ExecutionService",
    "aerie.execution.v1.WebhookService",
];

/// Calls of public services that only Aerie's own services make (with the
/// internal service credential, or to share state between processes): the
/// public endpoint answers them UNIMPLEMENTED.
pub const INTERNAL_METHODS: &[&str] = &[
    "/aerie.auth.v1.AuthService/AuthenticateApiToken",
    "/aerie.auth.v1.AuthService/GrantTenantCreator",
    "/aerie.auth.v1.AuthService/CheckTokenRevoked",
    "/aerie.auth.v1.AuthService/WatchAccessChanges",
    "/aerie.auth.v1.AuditService/RecordAuditEntries",
];

/// [`FILE_DESCRIPTOR_SET`] without the internal services and calls:
/// what server reflection publishes, so `grpcurl describe` shows a client
/// only what it may call.
pub fn public_descriptor_set() -> &'static [u8] {
    use prost::Message;
    static PUBLIC: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set is generated at build time and always decodes");
        for file in &mut set.file {
            let package = file.package().to_owned();
            file.service.retain(|service| {
                PUBLIC_SERVICES.contains(&format!("{package}.{}", service.name()).as_str())
            });
            for service in &mut file.service {
                let name = format!("{package}.{}", service.name());
                service.method.retain(|method| {
                    !INTERNAL_METHODS.contains(&format!("/{name}/{}", method.name()).as_str())
                });
            }
        }
        set.encode_to_vec()
    });
    &PUBLIC
}

/// Whether the public endpoint forwards a call to `path`
/// (`/package.Service/Method`).
pub fn is_public_call(path: &str) -> bool {
    let service = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .map(|(service, _)| service);
    service.is_some_and(|s| PUBLIC_SERVICES.contains(&s)) && !INTERNAL_METHODS.contains(&path)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A new service must be classified: public, or internal on purpose.
    #[test]
    fn every_service_is_public_or_internal_on_purpose() {
        const INTERNAL_SERVICES: &[&str] = &[
            "aerie.tenant.v1.TenantInternalService",
            "aerie.flow.v1.FlowInternalService",
            // Each service's part of a tenant archive, for tenant-svc.
            "aerie.transfer.v1.AuthTransferService",
            "aerie.transfer.v1.FlowTransferService",
            "aerie.transfer.v1.ExecutionTransferService",
        ];
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        let mut methods = Vec::new();
        for file in set
            .file
            .iter()
            .filter(|f| f.package().starts_with("aerie."))
        {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                assert!(
                    PUBLIC_SERVICES.contains(&name.as_str())
                        || INTERNAL_SERVICES.contains(&name.as_str()),
                    "{name} is neither public nor internal"
                );
                methods.extend(
                    service
                        .method
                        .iter()
                        .map(|m| format!("/{name}/{}", m.name())),
                );
            }
        }
        for internal in INTERNAL_METHODS {
            assert!(
                methods.iter().any(|m| m == internal),
                "{internal} does not exist"
            );
        }
        assert!(is_public_call("/aerie.flow.v1.FlowService/GetFlow"));
        assert!(!is_public_call(
            "/aerie.flow.v1.FlowInternalService/GetSubflow"
        ));
        assert!(!is_public_call(
            "/aerie.auth.v1.AuthService/CheckTokenRevoked"
        ));
        assert!(!is_public_call("/aerie.flow.v1.FlowService"));
        assert!(!is_public_call("aerie.flow.v1.FlowService/GetFlow"));
    }

    #[test]
    fn the_public_descriptors_hold_no_internal_service_or_call() {
        let set = prost_types::FileDescriptorSet::decode(public_descriptor_set()).expect("decodes");
        let mut services = Vec::new();
        for file in &set.file {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                for method in &service.method {
                    let path = format!("/{name}/{}", method.name());
                    assert!(is_public_call(&path), "{path} is published");
                }
                services.push(name);
            }
        }
        services.sort();
        let mut public = PUBLIC_SERVICES.to_vec();
        public.sort();
        assert_eq!(services, public);
    }
}

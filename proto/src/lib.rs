//! Aerie's wire contract, generated from `proto/` at build time with protox
//! (no system `protoc`), plus the encoded descriptor set that server
//! reflection publishes.

pub mod wire;

/// Every Aerie proto file and its imports, encoded as a `FileDescriptorSet`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/aerie_descriptor.bin"));

/// `aerie.changes.internal.v1`: change notices between Aerie's own services.
pub mod changes {
    pub mod internal {
        pub mod v1 {
            tonic::include_proto!("aerie.changes.internal.v1");
        }
    }
}

/// `aerie.tenant.v1`: tenants; `aerie.tenant.internal.v1`: what the other
/// services ask about them.
pub mod tenant {
    pub mod v1 {
        tonic::include_proto!("aerie.tenant.v1");
    }
    pub mod internal {
        pub mod v1 {
            tonic::include_proto!("aerie.tenant.internal.v1");
        }
    }
}

/// `aerie.auth.v1`: users, tokens, RBAC; `aerie.auth.internal.v1`: access
/// decisions, credentials and the audit outbox for the other services.
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("aerie.auth.v1");
    }
    pub mod internal {
        pub mod v1 {
            tonic::include_proto!("aerie.auth.internal.v1");
        }
    }
}

/// `google.api`: the HTTP mapping option carried by every RPC.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

/// `aerie.flow.v1`: flows, revisions, secrets, KV, trigger definitions;
/// `aerie.flow.internal.v1`: what the executor and the scheduler ask.
pub mod flow {
    pub mod v1 {
        tonic::include_proto!("aerie.flow.v1");
    }
    pub mod internal {
        pub mod v1 {
            tonic::include_proto!("aerie.flow.internal.v1");
        }
    }
}

/// `aerie.execution.v1`: executions, task runs, logs, files, webhooks.
pub mod execution {
    pub mod v1 {
        tonic::include_proto!("aerie.execution.v1");
    }
}

/// `aerie.transfer.internal.v1`: each service's part of a tenant archive.
pub mod transfer {
    pub mod internal {
        pub mod v1 {
            tonic::include_proto!("aerie.transfer.internal.v1");
        }
    }
}

/// The services a client may call from outside: the public gRPC endpoint
/// (the gateway's gRPC port) forwards these and server reflection lists
/// them. Every other service is in an `aerie.*.internal.v1` package:
/// Aerie's own plumbing, which only the services serve to each other.
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

/// Whether a proto package is Aerie's own plumbing (`aerie.flow.internal.v1`).
pub fn is_internal_package(package: &str) -> bool {
    package.split('.').any(|part| part == "internal")
}

/// [`FILE_DESCRIPTOR_SET`] without the internal packages: what server
/// reflection publishes, so `grpcurl describe` shows a client only what it
/// may call. No public file imports an internal one, so the rest stands.
pub fn public_descriptor_set() -> &'static [u8] {
    use prost::Message;
    static PUBLIC: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set is generated at build time and always decodes");
        set.file.retain(|file| !is_internal_package(file.package()));
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
        .filter(|(_, method)| !method.is_empty() && !method.contains('/'))
        .map(|(service, _)| service);
    service.is_some_and(|s| PUBLIC_SERVICES.contains(&s))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A new service must be classified: listed as public, or in an
    /// internal package; and no public file may lean on an internal one.
    #[test]
    fn every_service_is_public_or_in_an_internal_package() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        let internal_files: Vec<&str> = set
            .file
            .iter()
            .filter(|f| is_internal_package(f.package()))
            .map(|f| f.name())
            .collect();
        assert!(internal_files.len() >= 4, "{internal_files:?}");
        for file in set
            .file
            .iter()
            .filter(|f| f.package().starts_with("aerie."))
        {
            let internal = is_internal_package(file.package());
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                assert_ne!(
                    PUBLIC_SERVICES.contains(&name.as_str()),
                    internal,
                    "{name} must be either listed as public or in an internal package"
                );
            }
            if !internal {
                for import in &file.dependency {
                    assert!(
                        !internal_files.contains(&import.as_str()),
                        "{} imports the internal {import}",
                        file.name()
                    );
                }
            }
        }
        assert!(is_public_call("/aerie.flow.v1.FlowService/GetFlow"));
        assert!(!is_public_call(
            "/aerie.flow.internal.v1.FlowInternalService/GetSubflow"
        ));
        assert!(!is_public_call(
            "/aerie.auth.internal.v1.AuthInternalService/CheckAccess"
        ));
        assert!(!is_public_call("/aerie.flow.v1.FlowService"));
        assert!(!is_public_call("/aerie.flow.v1.FlowService/"));
        assert!(!is_public_call("aerie.flow.v1.FlowService/GetFlow"));
    }

    #[test]
    fn the_public_descriptors_hold_no_internal_service_or_message() {
        let set = prost_types::FileDescriptorSet::decode(public_descriptor_set()).expect("decodes");
        let mut services = Vec::new();
        for file in &set.file {
            assert!(!is_internal_package(file.package()), "{}", file.name());
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

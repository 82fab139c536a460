//! REST routes, one module per backend service.

pub mod audit;
pub mod auth;
pub mod executions;
pub mod flows;
pub mod kestra_fields;
pub mod meta;
pub mod namespaces;
pub mod rbac;
pub mod tenants;
pub mod triggers;
pub mod users;

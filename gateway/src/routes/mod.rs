//! REST routes, one module per backend service.

pub mod audit;
pub mod auth;
pub mod meta;
pub mod rbac;
pub mod tenants;
pub mod users;

//! REST routes, one module per backend service.

pub mod meta;
pub mod tenants;

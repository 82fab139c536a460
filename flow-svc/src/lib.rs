//! tmp
pub mod crypto;
pub mod domain;

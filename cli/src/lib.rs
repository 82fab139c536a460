//! The `aerie` binary's library half: assembling servers (standalone or one
//! service per process) and the admin commands, so that tests drive exactly
//! what the binary runs.

pub mod admin;
pub mod server;

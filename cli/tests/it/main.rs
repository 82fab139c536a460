//! End-to-end tests: the standalone server (gRPC services + REST gateway)
//! started in-process on 127.0.0.1:0, real HTTP, real gRPC, and the `aerie`
//! binary, against SQLite or (with AERIE_TEST_DATABASE_URL) PostgreSQL.

mod access_sync;
mod app;
mod auth;
mod changes;
mod cli;
mod cluster;
mod credentials;
mod docs;
mod durability;
mod executions;
mod flow_triggers;
mod flows;
mod for_each_item;
mod kestra_api;
mod kestra_compat;
mod kestra_features;
mod modes;
mod observability;
mod privilege;
mod public_grpc;
mod quotas;
mod reach;
mod rest;
mod retention;
mod rls;
mod storage;
mod subflows;
mod topology;
mod transfer;
mod ui;

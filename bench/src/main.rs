//! Load benchmarks of a real `aerie server standalone` process started next
//! to this binary, over loopback.
//!
//! Build and run: `cargo build --release -p aerie -p aerie-bench &&
//! target/release/aerie-bench <gateway-vs-grpc|flows|executions|login-flood|foreach|noisy-neighbour|schedules|ui>` (options: `--help`).

mod cpu;
mod executions;
mod flows;
mod gateway_vs_grpc;
mod login_flood;
mod measure;
mod neighbours;
mod schedules;
mod server;
mod ui;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Aerie load benchmarks")]
enum Bench {
    /// Authenticated GET through the gateway vs. straight over gRPC.
    GatewayVsGrpc(gateway_vs_grpc::Options),
    /// GetFlow and namespace listing through the gateway at 10 and at many tenants.
    Flows(flows::Options),
    /// Webhook-triggered executions at fixed rates, end-to-end latency (Kestra's benchmark shape).
    Executions(executions::Options),
    /// Concurrent logins with random usernames against auth-svc: memory and a real user's latency.
    LoginFlood(login_flood::Options),
    /// One big ForEach in one tenant beside another tenant's small executions and /health.
    Foreach(neighbours::ForeachOptions),
    /// One tenant at its quotas with Sleeps, ForEach loops and log floods beside another's steady load.
    NoisyNeighbour(neighbours::NoisyOptions),
    /// Thousands of Schedule triggers over many tenants: each tick once, and how late.
    Schedules(schedules::Options),
    /// The web UI's list pages with 1,000 flows and 10,000 executions in one tenant.
    Ui(ui::Options),
}

#[tokio::main]
async fn main() {
    match Bench::parse() {
        Bench::GatewayVsGrpc(options) => gateway_vs_grpc::run(options).await,
        Bench::Flows(options) => flows::run(options).await,
        Bench::Executions(options) => executions::run(options).await,
        Bench::LoginFlood(options) => login_flood::run(options).await,
        Bench::Foreach(options) => neighbours::foreach(options).await,
        Bench::NoisyNeighbour(options) => neighbours::noisy(options).await,
        Bench::Schedules(options) => schedules::run(options).await,
        Bench::Ui(options) => ui::run(options).await,
    }
}

//! `aerie-bench gateway-vs-grpc`: the same authenticated read through the
//! REST gateway and straight over gRPC, side by side.

use std::time::Duration;

use aerie_proto::tenant::v1::GetTenantRequest;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;

use crate::measure::drive;
use crate::server::start_server;

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of warm-up before each phase.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// Runs the comparison.
pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, http, grpc) = start_server(&dir);

    let client = crate::server::http_client();
    let token = crate::server::login(&client, &http).await;
    let created = client
        .post(format!("{http}/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"id": "bench", "name": "Bench"}))
        .send()
        .await
        .expect("create tenant");
    assert!(
        created.status().is_success(),
        "create tenant: {}",
        created.status()
    );

    let duration = Duration::from_secs(options.seconds);
    let warmup = Duration::from_secs(options.warmup);
    let url = format!("{http}/api/v1/tenants/bench");
    let rest = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        move || {
            let request = client.get(&url).bearer_auth(&token).send();
            async move {
                request
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        }
    };
    let channel = Channel::from_shared(grpc.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect gRPC");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("ascii");
    let direct = {
        let (channel, bearer) = (channel.clone(), bearer.clone());
        move || {
            let mut client = TenantServiceClient::new(channel.clone());
            let mut request = tonic::Request::new(GetTenantRequest { id: "bench".into() });
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            async move { client.get_tenant(request).await.is_ok() }
        }
    };

    println!(
        "aerie-bench: authenticated GET of one tenant, {} in flight, {} s per phase (after {} s warm-up)",
        options.concurrency, options.seconds, options.warmup
    );
    drive("warm-up", options.concurrency, warmup, direct.clone()).await;
    let grpc_phase = drive(
        "direct gRPC GetTenant",
        options.concurrency,
        duration,
        direct,
    )
    .await;
    drive("warm-up", options.concurrency, warmup, rest.clone()).await;
    let rest_phase = drive(
        "gateway GET /tenants/{id}",
        options.concurrency,
        duration,
        rest,
    )
    .await;
    grpc_phase.report();
    rest_phase.report();
    println!(
        "gateway keeps {:.0}% of the direct path's throughput (target: at least 75%)",
        100.0 * rest_phase.throughput() / grpc_phase.throughput()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! `aerie-bench ui`: how long the web UI's list pages take to render on the
//! server with a big tenant: 1,000 flows and 10,000 executions (goal: under
//! 100 ms), one signed-in browser asking page after page.

use std::time::Duration;

use crate::measure::{Phase, drive};
use crate::server::{http_client, login, start_server};

/// Options of the run.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Flows in the tenant.
    #[arg(long, default_value_t = 1000)]
    flows: usize,
    /// Executions in the tenant.
    #[arg(long, default_value_t = 10000)]
    executions: usize,
    /// Seconds per measured page.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Pages asked for at once (1: one user clicking).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
}

const TENANT: &str = "bench-ui";
const LOADERS: usize = 16;

fn flow_source(i: usize) -> String {
    format!(
        "id: flow{i:04}\nnamespace: bench.ns{:02}\ndescription: flow number {i}\nlabels:\n  team: t{}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello {i}\n",
        i % 10,
        i % 7
    )
}

/// Sends `count` requests made by `request`, `LOADERS` at a time.
async fn load(count: usize, request: impl Fn(usize) -> reqwest::RequestBuilder) {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|i| {
            let sent = request(i).send();
            async move {
                let response = sent.await.expect("load request");
                assert!(
                    response.status().is_success(),
                    "load: {}",
                    response.status()
                );
            }
        })
        .buffer_unordered(LOADERS)
        .collect::<Vec<()>>()
        .await;
}

/// Signs in through the UI's form; answers the session cookie.
async fn sign_in(http: &str, username: &str, password: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = client
        .get(format!("{http}/ui/auths/login"))
        .send()
        .await
        .expect("sign-in page");
    let cookie_of = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()?
                    .strip_prefix(&format!("{name}="))
                    .map(str::to_owned)
            })
            .filter(|v| !v.is_empty())
    };
    let login_cookie = cookie_of(&form, "aerie_login").expect("login cookie");
    let body = form.text().await.expect("page");
    let at = body.find("name=\"csrf\" value=\"").expect("csrf") + 19;
    let csrf = &body[at..at + 32];
    let answer = client
        .post(format!("{http}/ui/auths/login"))
        .header("cookie", format!("aerie_login={login_cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&next=%2Fui&username={username}&password={password}"
        ))
        .send()
        .await
        .expect("sign in");
    cookie_of(&answer, "aerie_session").expect("session cookie")
}

fn report(phase: &Phase) {
    phase.report();
    println!(
        "{:<28} p95 {:>7.2} ms",
        "",
        phase.percentile(0.95).as_secs_f64() * 1e3
    );
}

pub async fn run(options: Options) {
    let dir = std::env::temp_dir().join(format!("aerie-bench-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_server, http, _grpc) = start_server(&dir);
    let client = http_client();
    let admin = login(&client, &http).await;
    let api = |path: &str| format!("{http}/api/v1{path}");
    for (path, body) in [
        (
            "/tenants".to_owned(),
            serde_json::json!({"id": TENANT, "name": "UI bench"}),
        ),
        (
            "/users".to_owned(),
            serde_json::json!({"username": "viewer", "password": "viewer-password"}),
        ),
        (
            format!("/{TENANT}/bindings"),
            serde_json::json!({"type": "USER", "subject": "viewer", "role": "Admin"}),
        ),
    ] {
        let response = client
            .post(api(&path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("setup");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let token = crate::server::login_as(&client, &http, "viewer", "viewer-password").await;

    let started = std::time::Instant::now();
    load(options.flows, |i| {
        client
            .post(api(&format!("/{TENANT}/flows")))
            .bearer_auth(&token)
            .header("content-type", "application/x-yaml")
            .body(flow_source(i))
    })
    .await;
    println!(
        "loaded {} flows in {:.1} s",
        options.flows,
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let flows = options.flows.max(1);
    load(options.executions, |i| {
        let flow = i % flows;
        client
            .post(api(&format!(
                "/{TENANT}/executions/bench.ns{:02}/flow{flow:04}",
                flow % 10
            )))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
    })
    .await;
    println!(
        "created {} executions in {:.1} s",
        options.executions,
        started.elapsed().as_secs_f64()
    );

    let session = sign_in(&http, "viewer", "viewer-password").await;
    let duration = Duration::from_secs(options.seconds);
    for (name, path) in [
        ("flows page (100 of all)", format!("/ui/{TENANT}/flows")),
        (
            "executions page (100 of all)",
            format!("/ui/{TENANT}/executions"),
        ),
        (
            "flows search (text)",
            format!("/ui/{TENANT}/flows?q=number+99"),
        ),
    ] {
        let url = format!("{http}{path}");
        let cookie = format!("aerie_session={session}");
        let client = client.clone();
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let phase = drive(name, options.concurrency, duration, move || {
            let request = client.get(&url).header("cookie", &cookie).send();
            async move {
                match request.await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.is_ok()
                    }
                    _ => false,
                }
            }
        })
        .await;
        report(&phase);
    }
    for asset in ["/ui-assets/app.js", "/ui-assets/app.css"] {
        let bytes = client
            .get(format!("{http}{asset}"))
            .send()
            .await
            .expect("asset")
            .bytes()
            .await
            .expect("asset body");
        println!("{asset}: {} bytes (uncompressed)", bytes.len());
    }
}

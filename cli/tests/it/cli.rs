//! The `aerie` binary: admin commands with only the config file, config
//! errors, and the standalone server as a real process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::app::{Mode, TestApp};
use crate::cluster::Cluster;

fn aerie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aerie"))
}

fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("run aerie");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_created_tenant_is_served_by_the_running_server() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (ok, stdout, stderr) = app
        .cli(&[
            "tenants", "create", "--tenant", "stage", "--name", "Staging",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("created tenant stage"), "{stdout}");

    let (status, body) = app.get("/api/v1/tenants/stage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Staging");

    let config = app.config_path.clone();
    let (ok, stdout, _) = tokio::task::spawn_blocking(move || {
        run(aerie()
            .arg("--config")
            .arg(&config)
            .args(["tenants", "list"]))
    })
    .await
    .expect("join");
    assert!(ok);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("stage ") && l.ends_with("Staging")),
        "{stdout}"
    );

    let (ok, _, stderr) = app
        .cli(&["tenants", "create", "--tenant", "stage", "--name", "Again"])
        .await;
    assert!(!ok);
    assert!(stderr.contains("tenant 'stage' already exists"), "{stderr}");

    let (ok, stdout, stderr) = app.cli(&["tenants", "delete", "--tenant", "stage"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("deleted tenant stage"));
    let (status, _) = app.get("/api/v1/tenants/stage").await;
    assert_eq!(status, 404);

    let (ok, stdout, stderr) = app.cli(&["tenants", "restore", "--tenant", "stage"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("restored tenant stage"), "{stdout}");
    // The server's caches hear of it through the change feed.
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/api/v1/tenants/stage").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    let (ok, _, stderr) = app.cli(&["tenants", "restore", "--tenant", "stage"]).await;
    assert!(!ok);
    assert!(stderr.contains("tenant 'stage' is not deleted"), "{stderr}");
}

#[tokio::test]
async fn environment_overrides_the_config_file() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let config = app.config_path.clone();
    let (ok, _, stderr) = tokio::task::spawn_blocking(move || {
        run(aerie()
            .arg("-c")
            .arg(&config)
            .env("AERIE_TENANTS_ENABLED", "false")
            .args(["tenants", "create", "--tenant", "stage", "--name", "S"]))
    })
    .await
    .expect("join");
    assert!(!ok, "multi-tenancy was switched off by the environment");
    assert!(stderr.contains("multi-tenancy is disabled"), "{stderr}");
}

#[test]
fn unknown_config_keys_and_missing_files_stop_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aerie.yml");
    std::fs::write(&path, "aerie:\n  server:\n    http-prot: 1\n").expect("write");
    let (ok, _, stderr) = run(aerie().arg("-c").arg(&path).args(["tenants", "list"]));
    assert!(!ok);
    assert!(stderr.contains("http-prot"), "{stderr}");
    let (ok, _, stderr) = run(aerie().args(["-c", "/nonexistent/aerie.yml", "tenants", "list"]));
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

/// Each mistake names the key or variable as the user wrote it, and a
/// near miss gets a suggestion; nothing wrong is silently ignored.
#[test]
fn config_mistakes_name_the_real_key_or_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aerie.yml");
    std::fs::write(&path, "aerie:\n  tenants:\n    enabeld: true\n").expect("write");
    let (ok, _, stderr) = run(aerie().arg("-c").arg(&path).args(["tenants", "list"]));
    assert!(!ok);
    assert!(
        stderr.contains("unknown key `aerie.tenants.enabeld`")
            && stderr.contains("did you mean `aerie.tenants.enabled`?"),
        "{stderr}"
    );
    assert!(!stderr.contains("default.aerie"), "{stderr}");

    let (ok, _, stderr) = run(aerie()
        .env("AERIE_DATA_DIR", dir.path())
        .env("AERIE_TENANTS_ENABLD", "true")
        .args(["tenants", "list"]));
    assert!(!ok, "a misspelt variable is not ignored");
    assert!(
        stderr.contains(
            "unknown environment variable AERIE_TENANTS_ENABLD; did you mean AERIE_TENANTS_ENABLED?"
        ),
        "{stderr}"
    );

    let (ok, _, stderr) = run(aerie()
        .env("AERIE_DATA_DIR", dir.path())
        .env("AERIE_SERVER_HTTP_PORT", "eighty")
        .args(["tenants", "list"]));
    assert!(!ok);
    assert!(
        stderr.contains("environment variable AERIE_SERVER_HTTP_PORT:")
            && stderr.contains("eighty"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(aerie().args(["-l", "loud", "tenants", "list"]));
    assert!(!ok, "an unknown log level is refused");
    assert!(stderr.contains("`loud` is not a log level"), "{stderr}");
}

/// A corrupt SQLite file is named with its service, not just "file is not
/// a database".
#[test]
fn a_database_that_cannot_be_opened_names_its_service_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let tenant_db = data.join("tenant.db");
    std::fs::write(&tenant_db, vec![0x5a_u8; 8192]).expect("write");
    let (ok, _, stderr) = run(aerie()
        .env("AERIE_DATA_DIR", &data)
        .env("AERIE_TENANTS_ENABLED", "true")
        .args(["tenants", "list"]));
    assert!(!ok);
    assert!(
        stderr.contains(&format!("tenant database {}", tenant_db.display())),
        "{stderr}"
    );
}

#[test]
fn version_and_help() {
    let (ok, stdout, _) = run(aerie().arg("-V"));
    assert!(ok);
    assert_eq!(
        stdout.trim(),
        format!("aerie {}", env!("CARGO_PKG_VERSION"))
    );
    let (ok, stdout, _) = run(aerie().args(["tenants", "create", "-h"]));
    assert!(ok);
    for flag in [
        "--tenant",
        "--name",
        "-c, --config",
        "-l, --log-level",
        "-v, --verbose",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from help:\n{stdout}");
    }
}

#[test]
fn standalone_binary_starts_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aerie.yml");
    let config = format!(
        "aerie:\n  tenants:\n    enabled: true\n  server:\n    http-port: 0\n    grpc-port: 0\n  data-dir: {}\n",
        dir.path().join("data").display()
    );
    std::fs::write(&path, config).expect("write");
    let mut child = aerie()
        .arg("-c")
        .arg(&path)
        .args(["server", "standalone"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut startup = Vec::new();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|line| startup.push(line.clone()))
        .find(|line| line.contains("aerie standalone ready"))
        .expect("ready line");
    // The start-up log says where the data lives, and warns once that the
    // generated secrets key must be backed up.
    let data_dir = dir.path().join("data");
    assert!(
        startup
            .iter()
            .any(|l| l.contains("data directory") && l.contains(&data_dir.display().to_string())),
        "{startup:#?}"
    );
    assert_eq!(
        startup
            .iter()
            .filter(|l| l.contains("back that file up"))
            .count(),
        1,
        "{startup:#?}"
    );
    let http = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .expect("http address in ready line")
        .to_owned();
    assert!(started.elapsed() < Duration::from_secs(30));

    let body = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            crate::app::http_client()
                .get(format!("http://{http}/health"))
                .header("x-request-id", "access-log-probe-7")
                .send()
                .await
                .expect("GET /health")
                .status()
                .as_u16()
        })
    })
    .join()
    .expect("client thread");
    assert_eq!(body, 200);
    assert!(
        dir.path().join("data").join("tenant.db").exists(),
        "SQLite lives under data-dir"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    // The request left one access line, in its span, with its id and status.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let access: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains("aerie_gateway::access"))
        .collect();
    assert_eq!(access.len(), 1, "{rest:#?}");
    for part in ["request_id=access-log-probe-7", "status=200", "uri=/health"] {
        assert!(access[0].contains(part), "{part} missing: {}", access[0]);
    }
}

#[tokio::test]
async fn one_service_per_process_serves_the_same_api() {
    let cluster = Cluster::start(&[]).await;
    let http = cluster.http.clone();
    let client = crate::app::http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = crate::app::login(&http, "admin", "admin-password").await;
    let send = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = client
            .request(method, format!("{http}{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { crate::app::read(request.send().await.expect("request")).await }
    };
    let (status, body) = send(
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(serde_json::json!({"id": "split", "name": "Split", "adminUsername": "admin"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(reqwest::Method::GET, "/api/v1/tenants/split", None).await;
    assert_eq!(status, 200, "{body}");
    let flow = client
        .post(format!("{http}/api/v1/split/flows"))
        .bearer_auth(&token)
        .header("content-type", "application/x-yaml")
        .body("id: hello\nnamespace: split.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
        .send()
        .await
        .expect("create flow");
    let (status, body) = crate::app::read(flow).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenantId"], "split");
    // The audit entry travels from the tenant process's outbox to the auth process.
    loop {
        let (status, log) =
            send(reqwest::Method::GET, "/api/v1/split/auditlogs/search", None).await;
        assert_eq!(status, 200, "{log}");
        // From the tenant process and from the flow process.
        let delivered = log["results"].as_array().is_some_and(|r| {
            ["TENANT", "FLOW"].iter().all(|kind| {
                r.iter()
                    .any(|e| e["resourceType"] == *kind && e["action"] == "CREATE")
            })
        });
        if delivered {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "audit entry never crossed processes: {log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.processes.stop();
}

#[tokio::test]
async fn auth_admin_commands_work_with_only_the_config_file() {
    let app = TestApp::start(Mode::MultiWithDefault).await;

    let (ok, stdout, stderr) = app
        .cli(&[
            "auths",
            "users",
            "create",
            "--username",
            "olga",
            "--password",
            "olga-password",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "created user olga");
    let (ok, _, stderr) = app
        .cli(&[
            "auths",
            "users",
            "create",
            "--username",
            "olga",
            "--password",
            "olga-password",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("user 'olga' already exists"), "{stderr}");
    let (ok, _, stderr) = app
        .cli(&[
            "auths",
            "users",
            "create",
            "--username",
            "weak",
            "--password",
            "short",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("8 to 256"), "{stderr}");
    let (ok, stdout, _) = app.cli(&["auths", "users", "list"]).await;
    assert!(ok);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("olga ") && l.ends_with("false")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("admin ") && l.ends_with("true")),
        "{stdout}"
    );
    let olga = crate::app::login(&app.http, "olga", "olga-password").await;

    // A tenant created from the CLI with --admin-username is administered by that user.
    let (ok, _, stderr) = app
        .cli(&[
            "tenants",
            "create",
            "--tenant",
            "olgas",
            "--name",
            "Olga's",
            "--admin-username",
            "olga",
        ])
        .await;
    assert!(ok, "{stderr}");
    let (status, roles) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/olgas/roles",
            Some(&olga),
            None,
        )
        .await;
    assert_eq!(status, 200, "{roles}");
    let (ok, _, stderr) = app
        .cli(&[
            "tenants",
            "create",
            "--tenant",
            "nobodys",
            "--name",
            "N",
            "--admin-username",
            "nobody",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("user 'nobody' does not exist"), "{stderr}");
    let (status, _) = app.get("/api/v1/tenants/nobodys").await;
    assert_eq!(status, 404, "a failed create leaves no tenant behind");

    let (ok, stdout, stderr) = app.cli(&["auths", "keys", "rotate"]).await;
    assert!(ok, "{stderr}");
    let kid = stdout
        .trim()
        .strip_prefix("new signing key ")
        .expect("kid line")
        .to_owned();
    let (_, jwks) = app
        .send(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&kid.as_str()), "{kids:?}");
    assert_eq!(
        kids.len(),
        2,
        "the old key stays published while its tokens live"
    );
    let fresh = crate::app::login(&app.http, "olga", "olga-password").await;
    let header = jsonwebtoken::decode_header(&fresh).expect("header");
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
}

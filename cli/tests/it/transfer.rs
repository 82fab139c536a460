//! `aerie tenants export`, `import` and `adopt-default`: a tenant carried
//! whole into a new tenant id (flows and revisions, executions with their
//! logs and files, KV, secrets under the operator's transfer key, bindings,
//! quotas), answering as it did; a damaged archive, a wrong key or an
//! existing tenant refused with nothing written.

use std::path::Path;

use serde_json::{Value, json};

use crate::app::{Mode, TestApp};
use crate::executions::{create_flow, run, task_run, tenant};

const FLOW: &str = r#"id: carried
namespace: company.team
labels:
  team: blue
tasks:
  - id: make
    type: io.kestra.plugin.core.storage.Write
    content: "rows of {{ kv('region') }}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "token {{ secret('API_TOKEN') }} in {{ kv('region') }}"
"#;

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("utf-8 path").to_owned()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn file(app: &TestApp, tenant: &str, execution: &str, uri: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/{tenant}/executions/{execution}/file")))
        .query(&[("path", uri)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200, "{uri}");
    response.text().await.expect("text")
}

/// An execution as the API shows it, with what must differ between two
/// copies of a tenant taken out.
fn comparable(execution: &Value) -> Value {
    let id = execution["id"].as_str().unwrap_or_default();
    let text = execution.to_string().replace(id, "ID");
    let mut value: Value = serde_json::from_str(&text).expect("json");
    value["tenantId"] = Value::Null;
    value
}

#[tokio::test]
async fn a_tenant_exported_and_imported_answers_as_it_did() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/API_TOKEN",
            json!({"value": "tok-3f9a-very-secret"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .client
        .put(app.url("/api/v1/acme/namespaces/company.team/kv/region"))
        .bearer_auth(&app.admin)
        .body("\"eu-west\"")
        .send()
        .await
        .expect("kv");
    assert_eq!(response.status(), 200);
    create_flow(&app, "acme", FLOW).await;
    // A second revision: revisions travel too.
    let (status, body) = app
        .yaml(
            reqwest::Method::PUT,
            "/api/v1/acme/flows/company.team/carried",
            &app.admin,
            &FLOW.replace("team: blue", "team: green"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let original = run(&app, "acme", "company.team/carried", json!({})).await;
    assert_eq!(original["state"]["current"], "SUCCESS", "{original}");
    let olga = app.user("olga").await;
    let (status, body) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Reader", "permissions": ["FLOW:READ"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(Some("acme"), "olga", "Reader", None).await;
    let (status, body) = app
        .put("/api/v1/tenants/acme/quotas", json!({"foreachItems": 7}))
        .await;
    assert_eq!(status, 200, "{body}");

    let dir = tempfile::tempdir().expect("tempdir");
    let archive = path(dir.path(), "acme.tar.zst");
    let key = path(dir.path(), "transfer.key");
    std::fs::write(&key, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n").expect("key");

    // Secrets never leave in clear: without a transfer key, no archive.
    let (ok, _, stderr) = app
        .cli(&[
            "tenants", "export", "--tenant", "acme", "--output", &archive,
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("the tenant has 1 secrets"), "{stderr}");
    assert!(!Path::new(&archive).exists());
    let (ok, stdout, stderr) = app
        .cli(&[
            "tenants",
            "export",
            "--tenant",
            "acme",
            "--output",
            &archive,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 secrets sealed"), "{stdout}");
    let bytes = std::fs::read(&archive).expect("archive");
    let secret = b"tok-3f9a-very-secret";
    assert!(!bytes.windows(secret.len()).any(|w| w == secret));

    // Without the key, or with another, the secrets do not come in, and
    // neither does anything else.
    let other = path(dir.path(), "other.key");
    std::fs::write(&other, "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=").expect("key");
    for (refused, extra, message) in [
        ("refused1", None, "give the transfer key"),
        (
            "refused2",
            Some(other.as_str()),
            "does not open with this transfer key",
        ),
    ] {
        let mut args = vec![
            "tenants", "import", "--tenant", refused, "--input", &archive,
        ];
        if let Some(other) = extra {
            args.extend(["--secrets-key-file", other]);
        }
        let (ok, _, stderr) = app.cli(&args).await;
        assert!(!ok);
        assert!(stderr.contains(message), "{stderr}");
        let (status, _) = app.get(&format!("/api/v1/tenants/{refused}")).await;
        assert_eq!(status, 404, "nothing of a refused import stays");
    }

    let (ok, stdout, stderr) = app
        .cli(&[
            "tenants",
            "import",
            "--tenant",
            "acme2",
            "--input",
            &archive,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported tenant acme2"), "{stdout}");

    // The same answers, tenant and execution ids aside.
    let tenant_record = get(&app, "/api/v1/tenants/acme2").await;
    assert_eq!(
        tenant_record["name"],
        get(&app, "/api/v1/tenants/acme").await["name"]
    );
    assert_eq!(tenant_record["quotas"], json!({"foreachItems": 7}));
    for path in [
        "flows/company.team/carried",
        "flows/company.team/carried/revisions",
        "namespaces/company.team/kv/region",
    ] {
        let before = get(&app, &format!("/api/v1/acme/{path}")).await;
        let after = get(&app, &format!("/api/v1/acme2/{path}")).await;
        assert_eq!(
            before.to_string().replace("acme", "T"),
            after.to_string().replace("acme2", "T"),
            "{path}"
        );
    }
    let found = get(
        &app,
        "/api/v1/acme2/executions/search?namespace=company.team&flowId=carried",
    )
    .await;
    let copies = found["results"].as_array().expect("results");
    assert_eq!(copies.len(), 1);
    let copy_id = copies[0]["id"].as_str().expect("id").to_owned();
    assert_ne!(
        copy_id,
        original["id"].as_str().unwrap(),
        "executions get new ids"
    );
    let copy = get(&app, &format!("/api/v1/acme2/executions/{copy_id}")).await;
    assert_eq!(comparable(&copy), comparable(&original));
    let uri = task_run(&copy, "make")["outputs"]["uri"]
        .as_str()
        .expect("uri");
    assert!(uri.contains(&copy_id), "{uri}");
    assert_eq!(file(&app, "acme2", &copy_id, uri).await, "rows of eu-west");
    let logs = get(&app, &format!("/api/v1/acme2/logs/{copy_id}")).await;
    assert!(
        logs.to_string().contains("token ****** in eu-west"),
        "{logs}"
    );

    // The secret opens in its new tenant; the binding came along.
    let again = run(&app, "acme2", "company.team/carried", json!({})).await;
    assert_eq!(again["state"]["current"], "SUCCESS", "{again}");
    let (status, _) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/acme2/flows/company.team/carried",
            Some(&olga),
            None,
        )
        .await;
    assert_eq!(status, 200, "olga's binding was carried over");

    // An existing (or deleted) tenant is never overwritten; a damaged
    // archive is refused before anything is written.
    let (ok, _, stderr) = app
        .cli(&[
            "tenants",
            "import",
            "--tenant",
            "acme",
            "--input",
            &archive,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("tenant 'acme' already exists"), "{stderr}");
    let mut damaged = std::fs::read(&archive).expect("archive");
    let at = damaged.len() / 3;
    damaged[at] ^= 0xff;
    let damaged_path = path(dir.path(), "damaged.tar.zst");
    std::fs::write(&damaged_path, &damaged).expect("write");
    let (ok, _, stderr) = app
        .cli(&[
            "tenants",
            "import",
            "--tenant",
            "acme3",
            "--input",
            &damaged_path,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("damaged"), "{stderr}");
    let (status, _) = app.get("/api/v1/tenants/acme3").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn adopt_default_moves_the_default_tenants_data_into_a_named_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.bind(None, "admin", "Admin", None).await;
    let simple = "id: legacy\nnamespace: company.team\ntasks:\n  - id: make\n    type: io.kestra.plugin.core.storage.Write\n    content: kept\n";
    let (status, body) = app
        .yaml(reqwest::Method::POST, "/api/v1/flows", &app.admin, simple)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, original) = app
        .post(
            "/api/v1/executions/company.team/legacy?wait=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{original}");
    assert_eq!(original["state"]["current"], "SUCCESS", "{original}");
    // A service account with a token, bound in the default tenant; a
    // super-admin one; a user whose creation is an instance-level audit
    // entry.
    for (name, super_admin) in [("deploy", false), ("root", true)] {
        let (status, body) = app
            .post(
                "/api/v1/service-accounts",
                json!({"name": name, "superAdmin": super_admin}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, created) = app
        .post(
            "/api/v1/service-accounts/deploy/tokens",
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let deploy_token = created["token"].as_str().expect("token").to_owned();
    let (status, body) = app
        .post(
            "/api/v1/bindings",
            json!({"type": "SERVICE_ACCOUNT", "subject": "deploy", "role": "Admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.user("carl").await;
    // Carol may create tenants: a permission asked in the default tenant.
    let (status, body) = app
        .post(
            "/api/v1/roles",
            json!({"name": "TenantMaker", "permissions": ["TENANT:CREATE"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.user("carol").await;
    app.bind(None, "carol", "TenantMaker", None).await;

    let (ok, stdout, stderr) = app
        .cli(&[
            "tenants",
            "adopt-default",
            "--tenant",
            "main",
            "--name",
            "Main",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("into tenant main"), "{stdout}");

    let tenant_record = get(&app, "/api/v1/tenants/main").await;
    assert_eq!(tenant_record["name"], "Main");
    // The super admin's default-tenant binding moved with the rest.
    get(&app, "/api/v1/main/flows/company.team/legacy").await;
    let found = get(
        &app,
        "/api/v1/main/executions/search?namespace=company.team&flowId=legacy",
    )
    .await;
    let moved = &found["results"][0];
    let id = moved["id"].as_str().expect("id");
    let moved = get(&app, &format!("/api/v1/main/executions/{id}")).await;
    let uri = task_run(&moved, "make")["outputs"]["uri"]
        .as_str()
        .expect("uri");
    assert_eq!(file(&app, "main", id, uri).await, "kept");

    // The service accounts moved whole: the token works in the new
    // tenant (and only there), the super admin is still one.
    assert!(
        stdout.contains("API token ci of service account deploy keeps working"),
        "{stdout}"
    );
    let with_token = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(&deploy_token)
            .send()
    };
    let response = with_token("/api/v1/main/flows/company.team/legacy")
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "the token keeps working in main");
    let response = with_token("/api/v1/flows/company.team/legacy")
        .await
        .expect("get");
    assert_ne!(
        response.status(),
        200,
        "and no longer in the default tenant"
    );
    let root = get(&app, "/api/v1/main/service-accounts").await;
    let accounts = root["results"].as_array().expect("accounts");
    assert!(
        accounts
            .iter()
            .any(|a| a["name"] == "root" && a["superAdmin"] == true),
        "{root}"
    );
    assert!(!stdout.contains("was a super admin"), "{stdout}");
    // Audit entries about users stay in the default tenant's log; the
    // tenant's own entries moved.
    let in_main = get(&app, "/api/v1/main/auditlogs/search?resourceType=USER").await;
    assert_eq!(in_main["total"], 0, "{in_main}");
    let flows_in_main = get(&app, "/api/v1/main/auditlogs/search?resourceType=FLOW").await;
    assert!(
        flows_in_main["total"].as_u64().unwrap_or(0) >= 1,
        "{flows_in_main}"
    );
    app.bind(None, "admin", "Admin", None).await;
    let in_default = get(&app, "/api/v1/auditlogs/search?resourceType=USER").await;
    assert!(
        in_default["results"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["resourceId"] == "carl"),
        "{in_default}"
    );

    // Instance-wide permissions, asked in the default tenant, stay there.
    let carol = crate::app::login(&app.http, "carol", "carol-password").await;
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/tenants",
            Some(&carol),
            Some(json!({"id": "carols", "name": "Carol's"})),
        )
        .await;
    assert_eq!(status, 201, "carol still creates tenants: {body}");

    // Nothing else is left in the default tenant.
    let (status, _) = app.get("/api/v1/flows/company.team/legacy").await;
    assert!(status == 404 || status == 403, "{status}");
    let (status, left) = app
        .get("/api/v1/executions/search?namespace=company.team&flowId=legacy")
        .await;
    assert!(
        status == 403 || left["results"].as_array().is_some_and(Vec::is_empty),
        "{status} {left}"
    );
}

#[tokio::test]
async fn an_archive_moves_to_another_instance_with_its_own_master_key() {
    // The source on the suite's database (PostgreSQL when CI gives one),
    // the target on SQLite under its own data-dir and master key.
    let source = TestApp::start(Mode::MultiWithDefault).await;
    let target = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.database = Default::default();
    })
    .await;
    tenant(&source, "acme").await;
    let (status, body) = source
        .put(
            "/api/v1/acme/namespaces/company/secrets/API_TOKEN",
            json!({"value": "tok-moved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = source
        .client
        .put(source.url("/api/v1/acme/namespaces/company.team/kv/region"))
        .bearer_auth(&source.admin)
        .body("\"us-east\"")
        .send()
        .await
        .expect("kv");
    assert_eq!(response.status(), 200);
    create_flow(&source, "acme", FLOW).await;
    // An execution with a SECRET input: sealed under the source's master
    // key, carried under the transfer key, sealed again under the target's.
    create_flow(
        &source,
        "acme",
        "id: keyed\nnamespace: company.team\ninputs:\n  - id: token\n    type: SECRET\ntasks:\n  - id: seen\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.token | length }}\"\n",
    )
    .await;
    let keyed = run(
        &source,
        "acme",
        "company.team/keyed",
        json!({"token": "typed-by-olga"}),
    )
    .await;
    assert_eq!(task_run(&keyed, "seen")["outputs"]["value"], "13");
    source.user("olga").await;
    source.bind(Some("acme"), "olga", "Admin", None).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let archive = path(dir.path(), "acme.tar.zst");
    let key = path(dir.path(), "transfer.key");
    std::fs::write(&key, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").expect("key");
    let (ok, _, stderr) = source
        .cli(&[
            "tenants",
            "export",
            "--tenant",
            "acme",
            "--output",
            &archive,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = target
        .cli(&[
            "tenants",
            "import",
            "--tenant",
            "acme",
            "--input",
            &archive,
            "--secrets-key-file",
            &key,
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("note: user olga does not exist here"),
        "a binding to a user the instance lacks is reported: {stdout}"
    );
    let moved = run(&target, "acme", "company.team/carried", json!({})).await;
    assert_eq!(moved["state"]["current"], "SUCCESS", "{moved}");
    let id = moved["id"].as_str().expect("id");
    let logs = get(&target, &format!("/api/v1/acme/logs/{id}")).await;
    assert!(
        logs.to_string().contains("token ****** in us-east"),
        "{logs}"
    );
    let carried = get(
        &target,
        "/api/v1/acme/executions/search?namespace=company.team&flowId=keyed",
    )
    .await;
    let carried_id = carried["results"][0]["id"].as_str().expect("carried");
    assert!(!carried.to_string().contains("typed-by-olga"), "{carried}");
    let (status, again) = target
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/acme/executions/{carried_id}/replay"),
            Some(&target.admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{again}");
    let again_id = again["id"].as_str().expect("id").to_owned();
    let done = crate::executions::wait_until(
        &target,
        "acme",
        &again_id,
        std::time::Duration::from_secs(10),
        |e| e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED",
    )
    .await;
    assert_eq!(task_run(&done, "seen")["outputs"]["value"], "13", "{done}");
}

#[tokio::test]
async fn the_super_admin_exports_and_imports_a_tenant_over_rest() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let (status, body) = app
        .put(
            "/api/v1/acme/namespaces/company/secrets/API_TOKEN",
            json!({"value": "tok-over-rest"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .client
        .put(app.url("/api/v1/acme/namespaces/company.team/kv/region"))
        .bearer_auth(&app.admin)
        .body("\"ap-south\"")
        .send()
        .await
        .expect("kv");
    assert_eq!(response.status(), 200);
    create_flow(&app, "acme", FLOW).await;
    let original = run(&app, "acme", "company.team/carried", json!({})).await;
    assert_eq!(original["state"]["current"], "SUCCESS", "{original}");
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let export = |token: String, key: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = app
                .client
                .get(app.url("/api/v1/tenants/acme/export"))
                .bearer_auth(token);
            if let Some(key) = key {
                request = request.header("x-aerie-transfer-key", key);
            }
            let response = request.send().await.expect("export");
            (
                response.status().as_u16(),
                response.bytes().await.expect("body").to_vec(),
            )
        }
    };
    let import = |id: &'static str, archive: Vec<u8>, key: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url(&format!("/api/v1/tenants/{id}/import?name=Copied")))
                .bearer_auth(&app.admin)
                .header("x-aerie-transfer-key", key)
                .body(archive)
                .send()
                .await
                .expect("import");
            crate::app::read(response).await
        }
    };

    // Only the super admin; never secrets in clear.
    let ann = app.user("ann").await;
    app.bind(Some("acme"), "ann", "Admin", None).await;
    let (status, body) = export(ann, Some(key)).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, body) = export(app.admin.clone(), None).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("give a transfer key"));
    let (status, archive) = export(app.admin.clone(), Some(key)).await;
    assert_eq!(status, 200);
    let secret = b"tok-over-rest";
    assert!(!archive.windows(secret.len()).any(|w| w == secret));

    // Damaged, or with the wrong key: refused, nothing stays.
    let mut damaged = archive.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0xff;
    let (status, body) = import("broken", damaged, key).await;
    assert!(matches!(status, 400 | 422), "{status} {body}");
    let (status, body) = import(
        "wrongkey",
        archive.clone(),
        "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string()
            .contains("does not open with this transfer key"),
        "{body}"
    );
    for id in ["broken", "wrongkey"] {
        let (status, _) = app.get(&format!("/api/v1/tenants/{id}")).await;
        assert_eq!(status, 404, "{id}");
    }
    // The failed import's id stays taken: no later tenant can inherit
    // anything it wrote.
    let (status, body) = app
        .post("/api/v1/tenants", json!({"id": "wrongkey", "name": "new"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string()
            .contains("ids of deleted tenants are not reused"),
        "{body}"
    );
    // Nor can a restore make what it half-wrote reachable.
    let (status, body) = app
        .post("/api/v1/tenants/wrongkey/restore", json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("unfinished import"), "{body}");

    let (status, body) = import("copy", archive.clone(), key).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tenant"]["name"], "Copied");
    let before = get(&app, "/api/v1/acme/flows/company.team/carried").await;
    let after = get(&app, "/api/v1/copy/flows/company.team/carried").await;
    assert_eq!(
        before.to_string().replace("acme", "T"),
        after.to_string().replace("copy", "T")
    );
    let again = run(&app, "copy", "company.team/carried", json!({})).await;
    let id = again["id"].as_str().expect("id");
    let logs = get(&app, &format!("/api/v1/copy/logs/{id}")).await;
    assert!(
        logs.to_string().contains("token ****** in ap-south"),
        "{logs}"
    );
    let (status, body) = import("copy", archive.clone(), key).await;
    assert_eq!(
        status, 409,
        "an existing tenant is never overwritten: {body}"
    );

    // The export is on the exported tenant's record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, page) = app
            .send(
                reqwest::Method::GET,
                "/api/v1/acme/auditlogs/search?size=100",
                Some(&app.admin),
                None,
            )
            .await;
        let recorded = status == 200
            && page["results"].as_array().is_some_and(|entries| {
                entries
                    .iter()
                    .any(|e| e["action"] == "EXPORT" && e["actor"] == "admin")
            });
        if recorded {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The API's archive is the CLI's.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path(dir.path(), "rest.tar.zst");
    let key_file = path(dir.path(), "transfer.key");
    std::fs::write(&file, &archive).expect("archive");
    std::fs::write(&key_file, key).expect("key");
    let (ok, _, stderr) = app
        .cli(&[
            "tenants",
            "import",
            "--tenant",
            "fromrest",
            "--input",
            &file,
            "--secrets-key-file",
            &key_file,
        ])
        .await;
    assert!(ok, "{stderr}");
    get(&app, "/api/v1/fromrest/flows/company.team/carried").await;
}

#[tokio::test]
async fn the_services_parts_answer_only_aerie_itself() {
    use aerie_proto::transfer::internal::v1 as pb;
    use aerie_proto::transfer::internal::v1::auth_transfer_service_client::AuthTransferServiceClient;
    use aerie_proto::transfer::internal::v1::execution_transfer_service_client::ExecutionTransferServiceClient;
    use aerie_proto::transfer::internal::v1::flow_transfer_service_client::FlowTransferServiceClient;
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", FLOW).await;
    let bob = app.user("bob").await;
    let channel = app.internal_channel();
    // Bob (any user), and the super admin too, with acme in the header:
    // refused before anything is read or written.
    for token in [Some(bob.as_str()), Some(app.admin.as_str()), None] {
        let ask = || {
            crate::app::call(
                pb::ExportPartRequest {
                    transfer_key: String::new(),
                },
                token,
                Some("acme"),
            )
        };
        let refused = [
            FlowTransferServiceClient::new(channel.clone())
                .export_part(ask())
                .await
                .map(drop),
            AuthTransferServiceClient::new(channel.clone())
                .export_part(ask())
                .await
                .map(drop),
            ExecutionTransferServiceClient::new(channel.clone())
                .export_part(ask())
                .await
                .map(drop),
            FlowTransferServiceClient::new(channel.clone())
                .remove_part(crate::app::call(
                    pb::RemovePartRequest {},
                    token,
                    Some("acme"),
                ))
                .await
                .map(drop),
        ];
        // In-process to a standalone server, the handler refuses the
        // caller; with one process per service the test's router sends
        // them to tenant-svc, which does not serve the other services'
        // parts.
        let expected = if crate::topology::processes_requested() {
            tonic::Code::Unimplemented
        } else {
            tonic::Code::PermissionDenied
        };
        for result in refused {
            let status = result.expect_err("refused");
            assert_eq!(status.code(), expected, "{status:?}");
        }
    }
    get(&app, "/api/v1/acme/flows/company.team/carried").await;
}

/// The same archives over gRPC, as a client generated from the protos uses
/// them: `ExportTenant` streams chunks, `ImportTenant` takes a header then
/// chunks; a caller who is not the super admin is refused.
#[tokio::test]
async fn the_super_admin_exports_and_imports_a_tenant_over_grpc() {
    use aerie_proto::tenant::v1 as pb;
    use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
    use tokio_stream::StreamExt;

    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", FLOW).await;
    // Without its secret the flow fails: an execution all the same.
    let original = run(&app, "acme", "company.team/carried", json!({})).await;
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    fn bearer<T>(token: &str, mut request: tonic::Request<T>) -> tonic::Request<T> {
        let value = format!("Bearer {token}").parse().expect("ascii");
        request.metadata_mut().insert("authorization", value);
        request
    }
    let mut grpc = TenantServiceClient::connect(app.grpc.clone())
        .await
        .expect("connect");
    let export = |token: &str| {
        bearer(
            token,
            tonic::Request::new(pb::ExportTenantRequest {
                id: "acme".into(),
                transfer_key: key.into(),
            }),
        )
    };

    let someone = app.user("someone").await;
    let refused = match grpc.export_tenant(export(&someone)).await {
        Ok(stream) => stream
            .into_inner()
            .next()
            .await
            .expect("an answer")
            .expect_err("refused"),
        Err(status) => status,
    };
    assert!(
        matches!(
            refused.code(),
            tonic::Code::PermissionDenied | tonic::Code::NotFound
        ),
        "{refused:?}"
    );

    let mut stream = grpc
        .export_tenant(export(&app.admin))
        .await
        .expect("export")
        .into_inner();
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        archive.extend(chunk.expect("chunk").data);
    }
    assert!(!archive.is_empty());

    let mut parts = vec![pb::ImportTenantRequest {
        part: Some(pb::import_tenant_request::Part::Header(
            pb::ImportTenantHeader {
                id: "acme-grpc".into(),
                name: "Over gRPC".into(),
                transfer_key: key.into(),
            },
        )),
    }];
    parts.extend(
        archive
            .chunks(64 * 1024)
            .map(|data| pb::ImportTenantRequest {
                part: Some(pb::import_tenant_request::Part::Data(data.to_vec())),
            }),
    );
    let imported = grpc
        .import_tenant(bearer(
            &app.admin,
            tonic::Request::new(tokio_stream::iter(parts)),
        ))
        .await
        .expect("import")
        .into_inner();
    let tenant_made = imported.tenant.expect("tenant");
    assert_eq!(
        (tenant_made.id.as_str(), tenant_made.name.as_str()),
        ("acme-grpc", "Over gRPC")
    );
    let before = get(&app, "/api/v1/acme/flows/company.team/carried").await;
    let after = get(&app, "/api/v1/acme-grpc/flows/company.team/carried").await;
    assert_eq!(before["source"], after["source"]);
    let found = get(
        &app,
        "/api/v1/acme-grpc/executions/search?namespace=company.team&flowId=carried",
    )
    .await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(
        found["results"][0]["state"]["current"],
        original["state"]["current"]
    );
}

//! Internal storage on an S3-compatible object store: moto's S3 server
//! (installed from PyPI by CI) stands in for S3. Files of executions land
//! under the tenant's own prefix and are read back through the gateway.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aerie_common::config::StorageKind;
use serde_json::json;

use crate::app::{Mode, TestApp};
use crate::executions::{create_flow, run, tenant};

/// The moto S3 server to run: `AERIE_TEST_MOTO_SERVER`, or `moto_server` on PATH.
fn moto_server() -> Option<String> {
    if let Ok(path) = std::env::var("AERIE_TEST_MOTO_SERVER")
        && !path.is_empty()
    {
        return Some(path);
    }
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .map(|_| "moto_server".to_owned())
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn execution_files_live_in_s3_under_the_tenant() {
    let Some(moto) = moto_server() else {
        eprintln!("skipped: no moto_server (pip install 'moto[server]'); CI installs it");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = crate::app::http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The bucket (moto accepts unsigned requests).
    loop {
        if let Ok(response) = client.put(format!("{endpoint}/aerie-files")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "moto never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.storage.kind = StorageKind::S3;
        config.storage.s3.bucket = "aerie-files".into();
        config.storage.s3.region = "us-east-1".into();
        config.storage.s3.endpoint = Some(endpoint.clone());
        config.storage.s3.access_key_id = Some("test".into());
        config.storage.s3.secret_access_key = Some("test".into());
        config.storage.s3.allow_http = true;
    })
    .await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: writer\nnamespace: company.team\ntasks:\n  - id: file\n    type: io.kestra.plugin.core.storage.Write\n    content: \"stored in s3\"\n    extension: .txt\n",
    )
    .await;
    let execution = run(&app, "acme", "company.team/writer", json!({})).await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let id = execution["id"].as_str().unwrap();
    let uri = execution["taskRunList"][0]["outputs"]["uri"]
        .as_str()
        .unwrap();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
        .query(&[("path", uri)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "stored in s3");
    // In the bucket (as moto's own API lists it), the key starts with the tenant.
    let key = uri.strip_prefix("kestra:///").unwrap();
    let stored = client
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto data")
        .text()
        .await
        .expect("moto data");
    assert!(stored.contains(&format!("\"acme/{key}\"")), "{stored}");
    assert!(
        !stored.contains(&format!("\"{key}\"")),
        "nothing is stored outside a tenant prefix"
    );
}

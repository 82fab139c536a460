//! The REST calls Kestra users' scripts make beyond starting and reading
//! executions: deleting and relabelling executions, bulk kill, restart and
//! delete by ids and by query, log search, download and follow, namespace
//! search; each confined to its tenant and to the caller's namespaces.

use std::time::Duration;

use aerie_proto::execution::v1 as pb;
use aerie_proto::execution::v1::execution_service_client::ExecutionServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

use crate::app::{Mode, TestApp, call};
use crate::executions::{create_flow, run, tenant, wait_until};

const HELLO: &str = "id: hello\nnamespace: company.team\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: hello from {{ flow.id }}\n  - id: warn\n    type: io.kestra.plugin.core.log.Log\n    level: WARN\n    message: careful now\n";

const SLOW: &str = "id: slow\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n";

fn id_of(execution: &Value) -> String {
    execution["id"].as_str().expect("id").to_owned()
}

async fn start(app: &TestApp, tenant: &str, flow: &str) -> String {
    let (status, body) = app
        .post(&format!("/api/v1/{tenant}/executions/{flow}"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    id_of(&body)
}

async fn send_json(app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    app.send(method, path, Some(&app.admin), Some(body)).await
}

#[tokio::test]
async fn executions_are_deleted_relabelled_and_changed_in_bulk() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", HELLO).await;
    create_flow(&app, "acme", SLOW).await;
    let done: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(id_of(&run(&app, "acme", "company.team/hello", json!({})).await));
        }
        ids
    };
    let running = start(&app, "acme", "company.team/slow").await;
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "RUNNING"
    })
    .await;

    // Labels: added and changed on an ended execution, system ones kept.
    let labels = format!("/api/v1/acme/executions/{}/labels", done[0]);
    let (status, body) = send_json(
        &app,
        Method::POST,
        &labels,
        json!([{"key": "team", "value": "data"}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["labels"]["team"], "data");
    assert_eq!(body["labels"]["system.correlationId"], done[0].as_str());
    let (status, body) = send_json(
        &app,
        Method::POST,
        &labels,
        json!([{"key": "system.correlationId", "value": "forged"}]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("system labels"));
    let (status, body) = send_json(
        &app,
        Method::POST,
        &labels,
        json!({"key": "team", "value": "x"}),
    )
    .await;
    assert_eq!(status, 422, "an object is not a list of labels: {body}");
    let (status, body) = send_json(
        &app,
        Method::POST,
        &format!("/api/v1/acme/executions/{running}/labels"),
        json!([{"key": "team", "value": "data"}]),
    )
    .await;
    assert_eq!(status, 400, "a running execution keeps its labels: {body}");
    // The audit entry travels through the outbox: it arrives shortly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, audit) = app
            .get("/api/v1/acme/auditlogs/search?resourceType=EXECUTION")
            .await;
        if audit.to_string().contains("LABELS") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{audit}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Delete one: only once ended, and only with its logs and files.
    let (status, body) = app
        .delete(&format!("/api/v1/acme/executions/{running}"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("kill it first"));
    let (status, body) = app
        .delete(&format!(
            "/api/v1/acme/executions/{}?deleteLogs=false",
            done[0]
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("deleteLogs"));
    let (status, body) = app
        .delete(&format!(
            "/api/v1/acme/executions/{}?deleteMetrics=true",
            done[0]
        ))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app
        .get(&format!("/api/v1/acme/executions/{}", done[0]))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&format!("/api/v1/acme/logs/{}", done[0])).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .delete(&format!("/api/v1/acme/executions/{}", done[0]))
        .await;
    assert_eq!(status, 404, "deleted twice");

    // Bulk kill by ids: one ended id refuses the whole call.
    let (status, body) = send_json(
        &app,
        Method::DELETE,
        "/api/v1/acme/executions/kill/by-ids",
        json!([running, done[1]]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["count"], 0);
    assert_eq!(body["invalids"][0]["invalidValue"], done[1].as_str());
    assert_eq!(body["invalids"][0]["message"], "execution already finished");
    let (_, still) = app
        .get(&format!("/api/v1/acme/executions/{running}"))
        .await;
    assert_eq!(still["state"]["current"], "RUNNING", "nothing was killed");
    let (status, body) = send_json(
        &app,
        Method::DELETE,
        "/api/v1/acme/executions/kill/by-ids",
        json!([running, "00000000-0000-4000-8000-000000000000"]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["invalids"][0]["message"], "execution not found");
    let (status, body) = send_json(
        &app,
        Method::DELETE,
        "/api/v1/acme/executions/kill/by-ids",
        json!([running]),
    )
    .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "KILLED"
    })
    .await;

    // Restart by query: the KILLED one only.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/acme/executions/restart/by-query?flowId=slow",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "RUNNING"
    })
    .await;
    // Kill by query, then the restart by ids of a SUCCESS is refused.
    let (status, body) = app
        .delete("/api/v1/acme/executions/kill/by-query?namespace=company.team")
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    let (status, body) = send_json(
        &app,
        Method::POST,
        "/api/v1/acme/executions/restart/by-ids",
        json!([done[1]]),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Delete by query needs a filter, and takes the ended ones it matches.
    let (status, body) = app.delete("/api/v1/acme/executions/by-query").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .delete("/api/v1/acme/executions/by-query?flowId=hello&includeNonTerminated=true")
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .delete("/api/v1/acme/executions/by-query?flowId=hello")
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(2)), "{body}");
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "KILLED"
    })
    .await;
    let (status, body) = send_json(
        &app,
        Method::DELETE,
        "/api/v1/acme/executions/by-ids",
        json!([running]),
    )
    .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    let (_, page) = app.get("/api/v1/acme/executions/search").await;
    assert_eq!(page["total"], 0, "{page}");
}

#[tokio::test]
async fn logs_are_searched_downloaded_and_followed_within_scope() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", HELLO).await;
    create_flow(
        &app,
        "acme",
        "id: other\nnamespace: company.secret\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hello from the vault\n",
    )
    .await;
    let hello = id_of(&run(&app, "acme", "company.team/hello", json!({})).await);
    let other = id_of(&run(&app, "acme", "company.secret/other", json!({})).await);

    let (status, page) = app.get("/api/v1/acme/logs/search?q=HELLO%20FROM").await;
    assert_eq!((status, page["total"].clone()), (200, json!(2)), "{page}");
    // Newest first, each with its execution's namespace and flow.
    assert_eq!(page["results"][0]["executionId"], other.as_str());
    assert_eq!(page["results"][0]["namespace"], "company.secret");
    assert_eq!(page["results"][1]["flowId"], "hello");
    let (_, page) = app
        .get("/api/v1/acme/logs/search?namespace=company.team&minLevel=WARN")
        .await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["results"][0]["message"], "careful now");
    let (_, page) = app
        .get(&format!(
            "/api/v1/acme/logs/search?executionId={hello}&size=1&page=2"
        ))
        .await;
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["results"][0]["message"], "hello from hello");
    let (_, page) = app
        .get("/api/v1/acme/logs/search?startDate=2999-01-01")
        .await;
    assert_eq!(page["total"], 0, "{page}");
    for bad in ["minLevel=LOUD", "triggerId=t", "sort=x", "startDate=yesterday"] {
        let (status, body) = app.get(&format!("/api/v1/acme/logs/search?{bad}")).await;
        assert!(matches!(status, 400 | 422), "{bad}: {status} {body}");
    }

    // A user bound to one namespace finds only its lines.
    let carol = app.user("carol").await;
    let (status, body) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Viewer", "permissions": ["EXECUTION:READ"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(Some("acme"), "carol", "Viewer", Some("company.team"))
        .await;
    let (status, page) = app
        .send(
            Method::GET,
            "/api/v1/acme/logs/search?q=hello",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!((status, page["total"].clone()), (200, json!(1)), "{page}");
    assert!(!page.to_string().contains("vault"));
    let (status, body) = app
        .send(
            Method::GET,
            &format!("/api/v1/acme/logs/{other}/download"),
            Some(&carol),
            None,
        )
        .await;
    assert!(matches!(status, 403 | 404), "{status} {body}");
    assert!(!body.to_string().contains("vault"));

    // Download: one text line per log line.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/logs/{hello}/download")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].ends_with(" INFO hello from hello"), "{text}");
    assert!(lines[1].ends_with(" WARN careful now"), "{text}");

    // Follow: lines as they are written, and the stream ends with the run.
    create_flow(
        &app,
        "acme",
        "id: drip\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: first drop\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S\n  - id: second\n    type: io.kestra.plugin.core.log.Log\n    message: second drop\n",
    )
    .await;
    let drip = start(&app, "acme", "company.team/drip").await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/logs/{drip}/follow")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("follow");
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the stream ends with the execution")
        .expect("text");
    let first = body.find("first drop").expect("first line");
    let second = body.find("second drop").expect("second line");
    assert!(first < second, "{body}");
    assert_eq!(body.matches("event: log").count(), 2, "{body}");

    // Tenant B's admin and a spoofed tenant header see none of A's lines.
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    for path in [
        "/api/v1/acme/logs/search?q=hello".to_owned(),
        format!("/api/v1/acme/logs/{hello}/download"),
        format!("/api/v1/acme/logs/{hello}/follow"),
        format!("/api/v1/globex/logs/{hello}/download"),
        format!("/api/v1/globex/logs/{hello}/follow"),
    ] {
        let (status, body) = app.send(Method::GET, &path, Some(&bob), None).await;
        assert!(matches!(status, 403 | 404), "{path}: {status} {body}");
        assert!(!body.to_string().contains("hello from"));
    }
    let (status, page) = app
        .send(
            Method::GET,
            "/api/v1/globex/logs/search?q=hello",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!((status, page["total"].clone()), (200, json!(0)), "{page}");
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let denied = |code: Code| matches!(code, Code::NotFound | Code::PermissionDenied);
    let err = client
        .search_logs(call(
            pb::SearchLogsRequest::default(),
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .follow_logs(call(
            pb::FollowLogsRequest {
                execution_id: hello.clone(),
                min_level: String::new(),
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .delete_execution(call(
            pb::DeleteExecutionRequest { id: hello.clone() },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    let err = client
        .set_execution_labels(call(
            pb::SetExecutionLabelsRequest {
                id: hello.clone(),
                labels: [("team".to_owned(), "x".to_owned())].into(),
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(denied(err.code()), "{err:?}");
    // B's bulk calls in B's URL do not reach A's executions.
    for (method, path) in [
        (Method::DELETE, "/api/v1/globex/executions/by-ids"),
        (Method::DELETE, "/api/v1/globex/executions/kill/by-ids"),
        (Method::POST, "/api/v1/globex/executions/restart/by-ids"),
    ] {
        let (status, body) = app
            .send(method, path, Some(&bob), Some(json!([hello])))
            .await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["invalids"][0]["message"], "execution not found");
    }
    let (status, body) = app
        .send(
            Method::DELETE,
            "/api/v1/globex/executions/by-query?namespace=company",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(0)), "{body}");
    let (status, _) = app.get(&format!("/api/v1/acme/executions/{hello}")).await;
    assert_eq!(status, 200, "A's execution is still there");
}

#[tokio::test]
async fn namespaces_are_searched_as_a_tree_of_the_tenants_flows() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    for namespace in ["company.team", "company.data.raw"] {
        create_flow(
            &app,
            "acme",
            &format!(
                "id: f\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
            ),
        )
        .await;
    }
    let ids = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = app.get("/api/v1/acme/namespaces/search").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids(&page),
        ["company", "company.data", "company.data.raw", "company.team"]
    );
    assert_eq!(page["total"], 4);
    let (_, page) = app
        .get("/api/v1/acme/namespaces/search?q=DATA&sort=id:desc")
        .await;
    assert_eq!(ids(&page), ["company.data.raw", "company.data"]);
    let (_, page) = app
        .get("/api/v1/acme/namespaces/search?existing=true&size=1&page=2")
        .await;
    assert_eq!((ids(&page), page["total"].clone()), (vec!["company.team".to_owned()], json!(2)));
    let (status, _) = app.get("/api/v1/acme/namespaces/search?sort=name").await;
    assert_eq!(status, 400);
    let (status, _) = app.get("/api/v1/acme/namespaces/search?bogus=1").await;
    assert_eq!(status, 400);
    // Another tenant has none of them.
    let (_, page) = app.get("/api/v1/globex/namespaces/search").await;
    assert_eq!(page["total"], 0, "{page}");
}

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
            ids.push(id_of(
                &run(&app, "acme", "company.team/hello", json!({})).await,
            ));
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
            "/api/v1/acme/executions/{}?deleteMetrics=&deleteStorage=",
            done[0]
        ))
        .await;
    assert_eq!(status, 400, "an empty value is not a boolean: {body}");
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
    let (_, still) = app.get(&format!("/api/v1/acme/executions/{running}")).await;
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
    // Delete by query takes ended executions only: the running one stays.
    let (status, body) = app
        .delete("/api/v1/acme/executions/by-query?flowId=slow")
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(0)), "{body}");
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
    for bad in [
        "minLevel=LOUD",
        "triggerId=t",
        "sort=x",
        "startDate=yesterday",
    ] {
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
                min_level: pb::LogLevel::Unspecified as i32,
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
        [
            "company",
            "company.data",
            "company.data.raw",
            "company.team"
        ]
    );
    assert_eq!(page["total"], 4);
    let (_, page) = app
        .get("/api/v1/acme/namespaces/search?q=DATA&sort=id:desc")
        .await;
    assert_eq!(ids(&page), ["company.data.raw", "company.data"]);
    let (_, page) = app
        .get("/api/v1/acme/namespaces/search?existing=true&size=1&page=2")
        .await;
    assert_eq!(
        (ids(&page), page["total"].clone()),
        (vec!["company.team".to_owned()], json!(2))
    );
    let (status, _) = app.get("/api/v1/acme/namespaces/search?sort=name").await;
    assert_eq!(status, 400);
    let (status, _) = app.get("/api/v1/acme/namespaces/search?bogus=1").await;
    assert_eq!(status, 400);
    // Another tenant has none of them.
    let (_, page) = app.get("/api/v1/globex/namespaces/search").await;
    assert_eq!(page["total"], 0, "{page}");
}

fn flow_in(namespace: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

async fn yaml_as(app: &TestApp, method: Method, path: &str, body: &str) -> (u16, Value) {
    app.yaml(method, path, &app.admin, body).await
}

fn flow_ids(flows: &Value) -> Vec<String> {
    flows
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            format!(
                "{}.{}",
                f["namespace"].as_str().expect("namespace"),
                f["id"].as_str().expect("id")
            )
        })
        .collect()
}

async fn live_flows(app: &TestApp, tenant: &str) -> Vec<String> {
    let (_, page) = app
        .get(&format!(
            "/api/v1/{tenant}/flows/search?size=100&sort=id:asc"
        ))
        .await;
    let mut ids = flow_ids(&page["results"]);
    ids.sort();
    ids
}

#[tokio::test]
async fn a_namespace_is_replaced_all_or_nothing_and_validated_per_document() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", &flow_in("company.team", "old", "bye")).await;
    create_flow(&app, "acme", &flow_in("company.team", "keep", "same")).await;
    create_flow(&app, "acme", &flow_in("company.team.child", "kid", "hi")).await;

    // One bad document refuses the whole body; nothing changes.
    let body = format!(
        "{}---\n{}---\n{}",
        flow_in("company.team", "keep", "same"),
        flow_in("company.team", "new", "hello"),
        flow_in("company.team", "broken", "x").replace("log.Log", "log.Lg"),
    );
    let (status, err) = yaml_as(&app, Method::POST, "/api/v1/acme/flows/company.team", &body).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["message"].as_str().unwrap().contains("flow 3"), "{err}");
    assert_eq!(
        live_flows(&app, "acme").await,
        [
            "company.team.child.kid",
            "company.team.keep",
            "company.team.old"
        ]
    );
    let outsider = format!(
        "{}---\n{}",
        flow_in("company.team", "new", "hello"),
        flow_in("company.other", "stray", "x")
    );
    let (status, err) = yaml_as(
        &app,
        Method::POST,
        "/api/v1/acme/flows/company.team",
        &outsider,
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not in namespace company.team")
    );

    // delete=false keeps the flows left out.
    let body = format!(
        "{}---\n{}",
        flow_in("company.team", "keep", "same"),
        flow_in("company.team", "new", "hello")
    );
    let (status, flows) = yaml_as(
        &app,
        Method::POST,
        "/api/v1/acme/flows/company.team?delete=false",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{flows}");
    assert_eq!(flow_ids(&flows), ["company.team.keep", "company.team.new"]);
    assert_eq!(
        flows[0]["revision"], 1,
        "an unchanged flow keeps its revision"
    );
    assert_eq!(live_flows(&app, "acme").await.len(), 4);
    // The default deletes the namespace's other flows, not its children's.
    let (status, flows) =
        yaml_as(&app, Method::POST, "/api/v1/acme/flows/company.team", &body).await;
    assert_eq!(status, 200, "{flows}");
    assert_eq!(
        live_flows(&app, "acme").await,
        [
            "company.team.child.kid",
            "company.team.keep",
            "company.team.new"
        ]
    );
    let (status, _) = app
        .get("/api/v1/acme/flows/company.team/old/revisions")
        .await;
    assert_eq!(status, 200, "a deleted flow's revisions stay");

    // Validate: one answer per document, lines counted in the whole body.
    let body = format!(
        "{}---\n{}",
        flow_in("company.team", "fine", "ok"),
        flow_in("company.team", "bad", "x").replace("log.Log", "log.Lg")
    );
    let (status, report) = yaml_as(&app, Method::POST, "/api/v1/acme/flows/validate", &body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report.as_array().unwrap().len(), 2, "{report}");
    assert_eq!(
        (report[0]["index"].clone(), report[0]["valid"].clone()),
        (json!(0), json!(true))
    );
    assert_eq!(
        (report[1]["index"].clone(), report[1]["valid"].clone()),
        (json!(1), json!(false))
    );
    // Six lines, the separator, then the type on the fifth line of the second.
    assert_eq!(report[1]["findings"][0]["line"], 12, "{report}");

    // A user who may only read flows changes nothing.
    let reader = app.user("reader").await;
    let (status, body) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Reader", "permissions": ["FLOW:READ"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(Some("acme"), "reader", "Reader", None).await;
    // A writer of one namespace learns nothing of another's flows: the
    // same refusal whether the flow exists or not.
    let writer = app.user("writer").await;
    let (status, body) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Writer", "permissions": ["FLOW:READ", "FLOW:CREATE", "FLOW:UPDATE"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.bind(Some("acme"), "writer", "Writer", Some("company.team.child"))
        .await;
    let mut answers = Vec::new();
    for id in ["kid", "nobody"] {
        let (status, body) = app
            .yaml(
                Method::POST,
                "/api/v1/acme/flows/company.team?delete=false",
                &writer,
                &flow_in("company.team", id, "x"),
            )
            .await;
        answers.push((status, body["message"].clone()));
    }
    assert_eq!(answers[0].0, 403, "{answers:?}");
    assert_eq!(answers[0], answers[1]);
    let (status, _) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows/company.team",
            &reader,
            &flow_in("company.team", "keep", "changed"),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(live_flows(&app, "acme").await.len(), 3);
}

#[tokio::test]
async fn a_deleted_source_deletes_its_flow_on_import_and_only_there() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "bravo").await;
    for tenant in ["acme", "bravo"] {
        for id in ["gone", "stay"] {
            create_flow(&app, tenant, &flow_in("company.team", id, "hi")).await;
        }
    }
    let tombstone = |id: &str| format!("{}deleted: true\n", flow_in("company.team", id, "hi"));
    // Saving one flow with deleted: true is refused by name.
    let (status, err) = yaml_as(&app, Method::POST, "/api/v1/acme/flows", &tombstone("new")).await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("deleted: true"), "{err}");
    let (status, err) = yaml_as(
        &app,
        Method::PUT,
        "/api/v1/acme/flows/company.team/stay",
        &tombstone("stay"),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(live_flows(&app, "acme").await.len(), 2);
    // An editor who may not delete flows cannot delete one this way.
    let (status, role) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Editor", "permissions": ["FLOW:READ", "FLOW:CREATE", "FLOW:UPDATE"]}),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let editor = app.user("ed").await;
    app.bind(Some("acme"), "ed", "Editor", None).await;
    let body = format!(
        "{}---\n{}",
        flow_in("company.team", "stay", "hi"),
        tombstone("gone")
    );
    let (status, err) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows/company.team?delete=false",
            &editor,
            &body,
        )
        .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(live_flows(&app, "acme").await.len(), 2);
    // Kestra's loading of exported flows: the deleted one goes, one never
    // saved stays absent, the rest is kept; bravo's same ids are untouched.
    let body = format!(
        "{}---\n{}---\n{}",
        flow_in("company.team", "stay", "hi"),
        tombstone("gone"),
        tombstone("never")
    );
    let (status, flows) = yaml_as(
        &app,
        Method::POST,
        "/api/v1/acme/flows/company.team?delete=false",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{flows}");
    assert_eq!(flow_ids(&flows), ["company.team.stay"]);
    assert_eq!(live_flows(&app, "acme").await, ["company.team.stay"]);
    let (status, _) = app.get("/api/v1/acme/flows/company.team/gone").await;
    assert_eq!(status, 404);
    assert_eq!(
        live_flows(&app, "bravo").await,
        ["company.team.gone", "company.team.stay"]
    );
    // With delete (the default), a tombstone is not a flow to keep.
    let (status, flows) = yaml_as(
        &app,
        Method::POST,
        "/api/v1/bravo/flows/company.team",
        &tombstone("stay"),
    )
    .await;
    assert_eq!(status, 200, "{flows}");
    assert!(live_flows(&app, "bravo").await.is_empty());
    assert_eq!(live_flows(&app, "acme").await, ["company.team.stay"]);
}

#[tokio::test]
async fn flows_are_exported_imported_and_changed_in_bulk_within_their_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    for (namespace, id) in [
        ("company.team", "a"),
        ("company.team", "b"),
        ("company.data", "c"),
    ] {
        create_flow(&app, "acme", &flow_in(namespace, id, "hi")).await;
    }

    // Export by query: a zip of <namespace>.<id>.yml.
    let response = app
        .client
        .get(app.url("/api/v1/acme/flows/export/by-query?namespace=company.team"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    let archive = response.bytes().await.expect("bytes").to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.clone())).expect("a zip");
    let mut names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["company.team.a.yml", "company.team.b.yml"]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("company.team.a.yml").unwrap(), &mut text)
        .unwrap();
    assert_eq!(text, flow_in("company.team", "a", "hi"));

    // Import into another tenant: the same flows, nothing of acme's ids.
    let upload = |bytes: Vec<u8>, name: &str| {
        reqwest::multipart::Form::new().part(
            "fileUpload",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        )
    };
    let (status, flows) = app
        .post_form(
            "/api/v1/globex/flows/import",
            upload(archive.clone(), "flows.zip"),
        )
        .await;
    assert_eq!(status, 200, "{flows}");
    assert_eq!(flows.as_array().unwrap().len(), 2);
    assert_eq!(flows[0]["tenantId"], "globex");
    assert_eq!(
        live_flows(&app, "globex").await,
        ["company.team.a", "company.team.b"]
    );
    // A YAML file with a bad flow imports nothing.
    let yaml = format!(
        "{}---\n{}",
        flow_in("company.x", "new", "ok"),
        flow_in("company.x", "bad", "x").replace("log.Log", "log.Lg")
    );
    let (status, err) = app
        .post_form(
            "/api/v1/globex/flows/import",
            upload(yaml.into_bytes(), "flows.yml"),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(live_flows(&app, "globex").await.len(), 2);
    let (status, _) = app
        .post_form(
            "/api/v1/globex/flows/import",
            upload(b"not a zip".to_vec(), "flows.zip"),
        )
        .await;
    assert_eq!(status, 422);

    // Disable and enable by ids and by query: a new revision each.
    let (status, body) = send_json(
        &app,
        Method::POST,
        "/api/v1/acme/flows/disable/by-ids",
        json!([{"namespace": "company.team", "id": "a"}, {"namespace": "company.team", "id": "nope"}]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["invalids"][0]["invalidValue"], "company.team.nope");
    let (_, a) = app.get("/api/v1/acme/flows/company.team/a").await;
    assert_eq!(
        (a["disabled"].clone(), a["revision"].clone()),
        (json!(false), json!(1))
    );
    let (status, body) = send_json(
        &app,
        Method::POST,
        "/api/v1/acme/flows/disable/by-ids",
        json!([{"namespace": "company.team", "id": "a"}]),
    )
    .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    let (_, a) = app.get("/api/v1/acme/flows/company.team/a").await;
    assert_eq!(
        (a["disabled"].clone(), a["revision"].clone()),
        (json!(true), json!(2))
    );
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/acme/flows/enable/by-query?namespace=company.team",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(2)), "{body}");
    let (_, a) = app.get("/api/v1/acme/flows/company.team/a").await;
    assert_eq!(
        (a["disabled"].clone(), a["revision"].clone()),
        (json!(false), json!(3))
    );
    let (_, b) = app.get("/api/v1/acme/flows/company.team/b").await;
    assert_eq!(b["revision"], 1, "an enabled flow is left as it is");

    // Delete by query needs a filter (an empty one is none); by ids, then.
    for empty in ["", "?q=", "?namespace=&labels=", "?q=%20"] {
        let (status, body) = app
            .delete(&format!("/api/v1/acme/flows/delete/by-query{empty}"))
            .await;
        assert_eq!(status, 422, "{empty}: {body}");
    }
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/acme/flows/disable/by-query?q=",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        live_flows(&app, "acme").await.len(),
        3,
        "nothing was deleted"
    );
    let (status, body) = app
        .delete("/api/v1/acme/flows/delete/by-query?namespace=company.data")
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    let (status, body) = send_json(
        &app,
        Method::DELETE,
        "/api/v1/acme/flows/delete/by-ids",
        json!([{"namespace": "company.team", "id": "b"}]),
    )
    .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    assert_eq!(live_flows(&app, "acme").await, ["company.team.a"]);

    // Tenant B's admin reaches none of A's flows through any of them.
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    let a_only = json!([{"namespace": "company.team", "id": "a"}]);
    create_flow(&app, "acme", &flow_in("company.secret", "s", "classified")).await;
    for (method, path) in [
        (Method::POST, "/api/v1/globex/flows/export/by-ids"),
        (Method::POST, "/api/v1/globex/flows/disable/by-ids"),
        (Method::DELETE, "/api/v1/globex/flows/delete/by-ids"),
    ] {
        let (status, body) = app
            .send(
                method,
                path,
                Some(&bob),
                Some(json!([{"namespace": "company.secret", "id": "s"}])),
            )
            .await;
        assert_eq!(status, 422, "{path}: {body}");
    }
    for (method, path) in [
        (Method::POST, "/api/v1/acme/flows/export/by-ids"),
        (Method::POST, "/api/v1/acme/flows/disable/by-ids"),
        (Method::DELETE, "/api/v1/acme/flows/delete/by-ids"),
    ] {
        let (status, body) = app
            .send(method, path, Some(&bob), Some(a_only.clone()))
            .await;
        assert!(matches!(status, 403 | 404 | 422), "{path}: {status} {body}");
    }
    let response = app
        .client
        .get(app.url("/api/v1/globex/flows/export/by-query?namespace=company"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("export");
    let archive = response.bytes().await.expect("bytes").to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("a zip");
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("secret")), "{names:?}");
    let (status, _) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows/company.secret",
            &bob,
            &flow_in("company.secret", "s", "taken"),
        )
        .await;
    assert!(matches!(status, 403 | 404), "{status}");
    // And a spoofed tenant header straight to flow-svc.
    let mut client =
        aerie_proto::flow::v1::flow_service_client::FlowServiceClient::new(app.channel().await);
    let err = client
        .import_flows(call(
            aerie_proto::flow::v1::ImportFlowsRequest {
                sources: vec![flow_in("company.secret", "s", "taken")],
                namespace: "company.secret".into(),
                delete_missing: true,
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let (_, s) = app.get("/api/v1/acme/flows/company.secret/s").await;
    assert_eq!(s["revision"], 1, "{s}");
}

const TRIGGERED: &str = "id: hooked\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hooked\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: acme-hook-key-1\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n  - id: off\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"@daily\"\n    disabled: true\n";

async fn executions_of(app: &TestApp, flow: &str) -> u64 {
    let (_, page) = app
        .get(&format!(
            "/api/v1/acme/executions/search?flowId={flow}&size=1"
        ))
        .await;
    page["total"].as_u64().expect("total")
}

async fn toggle(app: &TestApp, token: &str, trigger: &str, disabled: bool) -> (u16, Value) {
    app.send(
        Method::PUT,
        "/api/v1/acme/triggers",
        Some(token),
        Some(
            json!({"namespace": "company.team", "flowId": "hooked", "triggerId": trigger,
                    "disabled": disabled, "date": "2026-01-01T00:00:00Z", "backfill": null}),
        ),
    )
    .await
}

#[tokio::test]
async fn triggers_are_disabled_and_enabled_without_a_new_flow_revision() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", TRIGGERED).await;
    let hook = "/api/v1/acme/executions/webhook/company.team/hooked/acme-hook-key-1";
    let (status, body) = app.send(Method::POST, hook, None, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");

    // The webhook: disabled answers as a wrong key does, and the flow keeps its revision.
    let (status, trigger) = toggle(&app, &app.admin, "hook", true).await;
    assert_eq!(status, 200, "{trigger}");
    assert_eq!(
        (trigger["disabled"].clone(), trigger["flowRevision"].clone()),
        (json!(true), json!(1))
    );
    let (status, _) = app.send(Method::POST, hook, None, Some(json!({}))).await;
    assert_eq!(status, 404);
    let (_, flow) = app.get("/api/v1/acme/flows/company.team/hooked").await;
    assert_eq!(flow["revision"], 1);
    // It stays disabled across the flow's updates.
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/hooked",
            &app.admin,
            &TRIGGERED.replace("message: hooked", "message: hooked again"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = app.get("/api/v1/acme/triggers/search?q=hook").await;
    assert_eq!(page["results"][0]["disabled"], true, "{page}");
    let (status, _) = app.send(Method::POST, hook, None, Some(json!({}))).await;
    assert_eq!(status, 404);
    let (status, _) = toggle(&app, &app.admin, "hook", false).await;
    assert_eq!(status, 200);
    let (status, _) = app.send(Method::POST, hook, None, Some(json!({}))).await;
    assert_eq!(status, 200);

    // The schedule: no tick fires while it is disabled.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while executions_of(&app, "hooked").await < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/set-disabled/by-triggers",
            json!({"triggers": [{"namespace": "company.team", "flowId": "hooked", "triggerId": "tick"}],
                   "disabled": true}),
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    // Schedulers hear of it within a second or so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = executions_of(&app, "hooked").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        executions_of(&app, "hooked").await,
        before,
        "a disabled schedule fired"
    );
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/acme/triggers/set-disabled/by-query?q=tick&disabled=false",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(1)), "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while executions_of(&app, "hooked").await <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule never fired again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    toggle(&app, &app.admin, "tick", true).await;

    // Refusals: the source's own disabled, unknown triggers, backfills, unlock.
    let (status, body) = toggle(&app, &app.admin, "off", false).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("edit the flow"),
        "{body}"
    );
    let (status, _) = toggle(&app, &app.admin, "nope", true).await;
    assert_eq!(status, 404);
    let (status, body) = app
        .put(
            "/api/v1/acme/triggers",
            json!({"namespace": "company.team", "flowId": "hooked", "triggerId": "hook",
                   "disabled": false, "backfill": {"start": "2026-01-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/set-disabled/by-triggers",
            json!({"triggers": [{"namespace": "company.team", "flowId": "hooked", "triggerId": "hook"},
                                {"namespace": "company.team", "flowId": "hooked", "triggerId": "nope"}],
                   "disabled": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["invalids"][0]["invalidValue"],
        "company.team.hooked.nope"
    );
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/company.team/hooked/hook/unlock",
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = app
        .post(
            "/api/v1/acme/triggers/company.team/hooked/nope/unlock",
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    // Kestra's bulk unlocks count the triggers unlocked: none is locked.
    // Kestra sends whole trigger objects; their other fields are ignored.
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/unlock/by-triggers",
            json!([{"namespace": "company.team", "flowId": "hooked", "triggerId": "hook",
                    "executionId": null, "date": "2026-01-01T00:00:00Z"}]),
        )
        .await;
    assert_eq!((status, body.clone()), (200, json!({"count": 0})), "{body}");
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/unlock/by-triggers",
            json!([{"namespace": "company.team", "flowId": "hooked", "triggerId": "nope"}]),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["invalids"][0]["invalidValue"], "company.team.hooked.nope",
        "{body}"
    );
    let (status, body) = app
        .post(
            "/api/v1/acme/triggers/unlock/by-query?namespace=company.team",
            json!({}),
        )
        .await;
    assert_eq!((status, body.clone()), (200, json!({"count": 0})), "{body}");
    let (status, body) = app
        .post("/api/v1/acme/triggers/unlock/by-query", json!({}))
        .await;
    assert_eq!(status, 422, "a by-query call needs a filter: {body}");

    // Tenant B's admin, in A's URL or with a spoofed header, changes nothing.
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    let (status, _) = toggle(&app, &bob, "tick", false).await;
    assert!(matches!(status, 403 | 404), "{status}");
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/globex/triggers/set-disabled/by-triggers",
            Some(&bob),
            Some(json!({"triggers": [{"namespace": "company.team", "flowId": "hooked", "triggerId": "tick"}],
                        "disabled": false})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // Nor does B's caller learn that A's trigger exists from a bulk unlock.
    for prefix in ["/api/v1/acme", "/api/v1/globex"] {
        let (status, body) = app
            .send(
                Method::POST,
                &format!("{prefix}/triggers/unlock/by-triggers"),
                Some(&bob),
                Some(
                    json!([{"namespace": "company.team", "flowId": "hooked", "triggerId": "tick"}]),
                ),
            )
            .await;
        assert!(
            matches!(status, 403 | 404 | 422),
            "{prefix}: {status} {body}"
        );
        assert_eq!(body["count"].as_u64().unwrap_or(0), 0, "{body}");
        if status == 422 {
            assert!(body.to_string().contains("not found"), "{body}");
        }
    }
    let mut client = aerie_proto::flow::v1::trigger_service_client::TriggerServiceClient::new(
        app.channel().await,
    );
    let err = client
        .set_trigger_disabled(call(
            aerie_proto::flow::v1::SetTriggerDisabledRequest {
                namespace: "company.team".into(),
                flow_id: "hooked".into(),
                trigger_id: "tick".into(),
                disabled: false,
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let (_, page) = app.get("/api/v1/acme/triggers/search?q=tick").await;
    assert_eq!(page["results"][0]["disabled"], true, "{page}");
}

const PAUSING: &str = "id: approval\nnamespace: company.team\ntasks:\n  - id: before\n    type: io.kestra.plugin.core.debug.Return\n    format: kept\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    tasks:\n      - id: inside\n        type: io.kestra.plugin.core.log.Log\n        message: inside\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: after {{ outputs.before.value }}\n";

fn run_of<'a>(execution: &'a Value, task_id: &str) -> Option<&'a Value> {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == task_id))
}

async fn paused(app: &TestApp, tenant: &str, flow: &str) -> String {
    let (status, body) = app
        .post(
            &format!("/api/v1/{tenant}/executions/company.team/{flow}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = id_of(&body);
    wait_until(app, tenant, &id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "PAUSED"
    })
    .await;
    id
}

#[tokio::test]
async fn a_pause_task_holds_the_execution_until_resumed_and_holds_no_worker() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", PAUSING).await;
    // One running execution at a time for acme: a paused one holds none.
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"runningExecutions": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = paused(&app, "acme", "approval").await;
    let (_, execution) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
    assert_eq!(
        run_of(&execution, "wait").expect("wait")["state"]["current"],
        "PAUSED"
    );
    assert!(run_of(&execution, "inside").is_none() && run_of(&execution, "after").is_none());
    create_flow(&app, "acme", HELLO).await;
    let second = run(&app, "acme", "company.team/hello", json!({})).await;
    assert_eq!(second["state"]["current"], "SUCCESS", "{second}");

    // Resume: refused with inputs (onResume is not supported), then for real.
    let (status, body) = app
        .post(
            &format!("/api/v1/acme/executions/{id}/resume"),
            json!({"approved": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{id}/resume"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let states: Vec<&str> = run_of(&done, "wait").expect("wait")["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    );
    assert_eq!(
        run_of(&done, "inside").expect("inside")["state"]["current"],
        "SUCCESS"
    );
    // Outputs from before the pause are there after it.
    assert_eq!(
        run_of(&done, "after").expect("after")["outputs"]["value"],
        "after kept"
    );
    let execution_states: Vec<&str> = done["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert!(
        execution_states
            .windows(2)
            .any(|w| w == ["PAUSED", "RUNNING"]),
        "{execution_states:?}"
    );
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{id}/resume"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 400, "only a PAUSED execution resumes");
}

#[tokio::test]
async fn pauses_end_by_delay_timeout_or_kill_and_stay_in_their_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let with = |id: &str, extra: &str| {
        format!(
            "id: {id}\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n{extra}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n"
        )
    };
    create_flow(&app, "acme", &with("delayed", "    delay: PT1S\n")).await;
    create_flow(&app, "acme", &with("timed", "    timeout: PT1S\n")).await;
    create_flow(&app, "acme", &with("held", "")).await;
    create_flow(
        &app,
        "acme",
        "id: branches\nnamespace: company.team\ntasks:\n  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: wait\n        type: io.kestra.plugin.core.flow.Pause\n      - id: busy\n        type: io.kestra.plugin.core.log.Log\n        message: busy\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
    )
    .await;

    // delay: resumes by itself.
    let delayed = paused(&app, "acme", "delayed").await;
    let done = wait_until(&app, "acme", &delayed, Duration::from_secs(15), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert!(run_of(&done, "after").is_some());
    // timeout: fails unless resumed in time.
    let timed = paused(&app, "acme", "timed").await;
    let failed = wait_until(&app, "acme", &timed, Duration::from_secs(15), |e| {
        e["state"]["current"] == "FAILED"
    })
    .await;
    assert!(run_of(&failed, "after").is_none());
    let (_, logs) = app.get(&format!("/api/v1/acme/logs/{timed}")).await;
    assert!(logs.to_string().contains("timeout"), "{logs}");
    // A parallel branch pauses; the other ends; then all goes on.
    let branches = paused(&app, "acme", "branches").await;
    let (_, execution) = app
        .get(&format!("/api/v1/acme/executions/{branches}"))
        .await;
    assert_eq!(
        run_of(&execution, "busy").expect("busy")["state"]["current"],
        "SUCCESS"
    );
    assert_eq!(
        run_of(&execution, "both").expect("both")["state"]["current"],
        "RUNNING"
    );
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{branches}/resume"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    wait_until(&app, "acme", &branches, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;

    // Tenant B cannot resume A's paused execution, nor can a spoofed header.
    let held = paused(&app, "acme", "held").await;
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    for path in [
        format!("/api/v1/acme/executions/{held}/resume"),
        format!("/api/v1/globex/executions/{held}/resume"),
    ] {
        let (status, body) = app.send(Method::POST, &path, Some(&bob), None).await;
        assert!(matches!(status, 403 | 404), "{path}: {status} {body}");
    }
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let err = client
        .resume_execution(call(
            pb::ResumeExecutionRequest {
                id: held.clone(),
                ..Default::default()
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let (_, still) = app.get(&format!("/api/v1/acme/executions/{held}")).await;
    assert_eq!(still["state"]["current"], "PAUSED");
    // Killing a paused execution ends it at once.
    let killed = crate::executions::kill(&app, "acme", &held).await;
    assert_eq!(
        run_of(&killed, "wait").expect("wait")["state"]["current"],
        "KILLED"
    );
}

/// Kestra's pause_on_resume flows (PauseTest#runOnResume,
/// #runOnResumeMissingInputs, #runOnResumeOptionalInputs): the resume
/// gives the Pause task's `onResume` inputs, checked like an execution's
/// inputs (files uploaded as a form), and the task shows them as its
/// `onResume` output. Over REST and gRPC; never by another tenant.
#[tokio::test]
async fn a_pause_takes_its_on_resume_inputs_from_the_resume_checked_and_only_from_its_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    tenant(&app, "globex").await;
    create_flow(
        &app,
        "acme",
        "id: asks\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: approved\n        type: BOOLEAN\n      - id: note\n        type: STRING\n        required: false\n      - id: doc\n        type: FILE\n        required: false\n  - id: last\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      approved: \"{{ outputs.wait.onResume.approved }}\"\n      note: \"{{ outputs.wait.onResume.note ?? 'MISSING' }}\"\n",
    )
    .await;
    let id = paused(&app, "acme", "asks").await;
    let resume = format!("/api/v1/acme/executions/{id}/resume");

    // Missing and mistyped inputs are refused and the execution stays PAUSED.
    let (status, body) = app
        .send(Method::POST, &resume, Some(&app.admin), None)
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("input 'approved' is required"),
        "{body}"
    );
    let (status, body) = app
        .post(&resume, json!({"approved": "maybe", "extra": 1}))
        .await;
    assert_eq!(status, 422, "{body}");
    for expected in [
        "input 'approved': expected true or false",
        "unknown input 'extra'",
    ] {
        assert!(body.to_string().contains(expected), "{expected}: {body}");
    }
    // Tenant B's admin, in A's URL or with a spoofed header, resumes nothing.
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    for path in [
        resume.clone(),
        format!("/api/v1/globex/executions/{id}/resume"),
    ] {
        let (status, body) = app
            .send(
                Method::POST,
                &path,
                Some(&bob),
                Some(json!({"approved": true})),
            )
            .await;
        assert!(matches!(status, 403 | 404), "{path}: {status} {body}");
    }
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let given = |approved: bool| aerie_proto::wire::to_struct(json!({"approved": approved}));
    let err = client
        .resume_execution(call(
            pb::ResumeExecutionRequest {
                id: id.clone(),
                inputs: given(true),
                ..Default::default()
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let (_, still) = app.get(&format!("/api/v1/acme/executions/{id}")).await;
    assert_eq!(still["state"]["current"], "PAUSED", "{still}");

    // A file for a STRING input, or two for one FILE input: refused.
    for form in [
        reqwest::multipart::Form::new()
            .text("approved", "true")
            .part(
                "note",
                reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("n.txt"),
            ),
        reqwest::multipart::Form::new()
            .text("approved", "true")
            .part(
                "doc",
                reqwest::multipart::Part::bytes(b"1".to_vec()).file_name("a.txt"),
            )
            .part(
                "doc",
                reqwest::multipart::Part::bytes(b"2".to_vec()).file_name("b.txt"),
            ),
    ] {
        let (status, body) = app.post_form(&resume, form).await;
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        assert!(
            text.contains("not a FILE") || text.contains("one file"),
            "{text}"
        );
    }

    // A form: values and a file.
    let form = reqwest::multipart::Form::new()
        .text("approved", "true")
        .part(
            "doc",
            reqwest::multipart::Part::bytes(b"signed".to_vec()).file_name("ok.txt"),
        );
    let (status, body) = app.post_form(&resume, form).await;
    assert_eq!(status, 200, "{body}");
    let done = wait_until(&app, "acme", &id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let wait = run_of(&done, "wait").expect("wait");
    assert_eq!(wait["outputs"]["onResume"]["approved"], true, "{wait}");
    assert_eq!(wait["outputs"]["onResume"]["note"], Value::Null, "{wait}");
    let last = run_of(&done, "last").expect("last");
    assert_eq!(last["outputs"]["values"]["approved"], "true", "{last}");
    assert_eq!(last["outputs"]["values"]["note"], "MISSING", "{last}");
    let uri = wait["outputs"]["onResume"]["doc"]
        .as_str()
        .expect("a file uri");
    assert!(
        uri.starts_with(&format!("kestra:///company/team/asks/executions/{id}/")),
        "{uri}"
    );
    let response = app
        .client
        .get(app.url(&format!("/api/v1/acme/executions/{id}/file")))
        .query(&[("path", uri)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), b"signed");

    // Over gRPC, with a Struct.
    let second = paused(&app, "acme", "asks").await;
    client
        .resume_execution(call(
            pb::ResumeExecutionRequest {
                id: second.clone(),
                inputs: given(false),
                ..Default::default()
            },
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("resumed over gRPC");
    let done = wait_until(&app, "acme", &second, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert_eq!(
        run_of(&done, "last").expect("last")["outputs"]["values"]["approved"],
        "false"
    );

    // Resumed by its delay: the onResume inputs take their defaults.
    create_flow(
        &app,
        "acme",
        "id: timed\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    delay: PT0.2S\n    onResume:\n      - id: n\n        type: INT\n        defaults: 3\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.wait.onResume.n }}\"\n",
    )
    .await;
    let timed = run(&app, "acme", "company.team/timed", json!({})).await;
    let timed = wait_until(&app, "acme", &id_of(&timed), Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert_eq!(
        run_of(&timed, "show").expect("show")["outputs"]["value"],
        "3"
    );

    // A Pause without onResume takes no inputs; SECRET is refused in onResume.
    let (status, body) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            "id: secretive\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: pw\n        type: SECRET\n",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("SECRET"),
        "{body}"
    );
}

#[tokio::test]
async fn a_running_or_queued_execution_is_paused_and_resumed_where_it_stopped() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: slowpoke\nnamespace: company.team\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.debug.Return\n    format: first\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT2S\n  - id: two\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.one.value }} then second\"\n",
    )
    .await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"runningExecutions": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let running = start(&app, "acme", "company.team/slowpoke").await;
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        run_of(e, "nap").is_some_and(|r| r["state"]["current"] == "RUNNING")
    })
    .await;
    // Queued behind it (one running execution at a time for acme).
    let queued = start(&app, "acme", "company.team/slowpoke").await;
    let pause = |id: String| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                &format!("/api/v1/acme/executions/{id}/pause"),
                Some(&app.admin),
                None,
            )
            .await
        }
    };
    let (status, body) = pause(queued.clone()).await;
    assert_eq!(status, 202, "{body}");
    let (_, now) = app.get(&format!("/api/v1/acme/executions/{queued}")).await;
    assert_eq!(
        now["state"]["current"], "PAUSED",
        "a queued execution pauses at once"
    );
    let (status, body) = pause(running.clone()).await;
    assert_eq!(status, 202, "{body}");
    let held = wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "PAUSED"
    })
    .await;
    assert!(run_of(&held, "two").is_none(), "{held}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, still) = app.get(&format!("/api/v1/acme/executions/{running}")).await;
    assert_eq!(still["state"]["current"], "PAUSED");
    assert!(
        run_of(&still, "two").is_none(),
        "nothing runs while paused: {still}"
    );
    // Paused executions hold no worker: another one runs meanwhile.
    create_flow(&app, "acme", HELLO).await;
    let other = run(&app, "acme", "company.team/hello", json!({})).await;
    assert_eq!(other["state"]["current"], "SUCCESS");

    for id in [&running, &queued] {
        let (status, body) = app
            .send(
                Method::POST,
                &format!("/api/v1/acme/executions/{id}/resume"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for id in [&running, &queued] {
        let done = wait_until(&app, "acme", id, Duration::from_secs(20), |e| {
            e["state"]["current"] == "SUCCESS"
        })
        .await;
        assert_eq!(
            run_of(&done, "two").expect("two")["outputs"]["value"],
            "first then second"
        );
    }
    let (status, _) = pause(running.clone()).await;
    assert_eq!(status, 400, "an ended execution is not paused");
}

#[tokio::test]
async fn a_follow_stream_ends_when_its_callers_access_is_taken_away() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", SLOW).await;
    let running = start(&app, "acme", "company.team/slow").await;
    let viewer = app.user("viewer").await;
    let (status, body) = app
        .post(
            "/api/v1/acme/roles",
            json!({"name": "Watcher", "permissions": ["EXECUTION:READ"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for path in [
        format!("/api/v1/acme/executions/{running}/follow"),
        format!("/api/v1/acme/logs/{running}/follow"),
    ] {
        let binding = app.bind(Some("acme"), "viewer", "Watcher", None).await;
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("follow");
        assert_eq!(response.status(), 200, "{path}");
        let reading = tokio::spawn(response.text());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !reading.is_finished(),
            "{path}: the stream runs while access lasts"
        );
        let (status, _) = app
            .delete(&format!("/api/v1/acme/bindings/{binding}"))
            .await;
        assert_eq!(status, 204);
        let body = tokio::time::timeout(Duration::from_secs(10), reading)
            .await
            .unwrap_or_else(|_| panic!("{path}: the stream ends once access is gone"))
            .expect("join")
            .expect("body");
        assert!(body.contains("event: error"), "{path}: {body}");
    }
    crate::executions::kill(&app, "acme", &running).await;
}

#[tokio::test]
async fn a_resume_counts_against_the_tenants_queue_quota() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", SLOW).await;
    let (status, body) = app
        .put(
            "/api/v1/tenants/acme/quotas",
            json!({"runningExecutions": 1, "queuedExecutions": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let running = start(&app, "acme", "company.team/slow").await;
    wait_until(&app, "acme", &running, Duration::from_secs(10), |e| {
        e["state"]["current"] == "RUNNING"
    })
    .await;
    let paused = start(&app, "acme", "company.team/slow").await;
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{paused}/pause"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let queued = start(&app, "acme", "company.team/slow").await;
    // The queue is full (one waiting): the paused one cannot join it.
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{paused}/resume"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    let (_, still) = app.get(&format!("/api/v1/acme/executions/{paused}")).await;
    assert_eq!(still["state"]["current"], "PAUSED");
    for id in [&running, &queued, &paused] {
        crate::executions::kill(&app, "acme", id).await;
    }
}

/// Kestra's replay from a task run (ExecutionControllerTest#replay...,
/// restart_with_inputs.yaml): the new execution is RESTARTED with copies
/// of the task runs before the chosen one; the chosen task, inside its
/// Sequential, and all after it run again. Another tenant replays nothing.
#[tokio::test]
async fn a_replay_from_a_task_run_keeps_what_ran_before_it_and_runs_the_rest_again() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(
        &app,
        "acme",
        "id: steps\nnamespace: company.team\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.debug.Return\n    format: \"one {{ execution.id }}\"\n  - id: group\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: two\n        type: io.kestra.plugin.core.debug.Return\n        format: \"two {{ execution.id }}\"\n      - id: three\n        type: io.kestra.plugin.core.debug.Return\n        format: \"three {{ execution.id }}\"\n  - id: four\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.one.value }} / {{ outputs.three.value }}\"\n",
    )
    .await;
    let first = run(&app, "acme", "company.team/steps", json!({})).await;
    assert_eq!(first["state"]["current"], "SUCCESS", "{first}");
    let first_id = id_of(&first);
    let three = run_of(&first, "three").expect("three")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let path = format!("/api/v1/acme/executions/{first_id}/replay?taskRunId={three}");
    let (status, started) = app.send(Method::POST, &path, Some(&app.admin), None).await;
    assert_eq!(status, 200, "{started}");
    let again = id_of(&started);
    assert_ne!(again, first_id);
    let done = wait_until(&app, "acme", &again, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    let states: Vec<&str> = done["state"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .map(|h| h["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states[..2], ["CREATED", "RESTARTED"], "{done}");
    assert_eq!(
        done["taskRunList"].as_array().expect("runs").len(),
        5,
        "{done}"
    );
    let output = |execution: &Value, task: &str| {
        run_of(execution, task).expect(task)["outputs"]["value"]
            .as_str()
            .expect("value")
            .to_owned()
    };
    // Copied: the first execution's values; ran again: the new one's.
    assert_eq!(output(&done, "one"), format!("one {first_id}"));
    assert_eq!(output(&done, "two"), format!("two {first_id}"));
    assert_eq!(output(&done, "three"), format!("three {again}"));
    assert_eq!(
        output(&done, "four"),
        format!("one {first_id} / three {again}")
    );
    for task in ["one", "two", "three", "group"] {
        assert_ne!(
            run_of(&done, task).expect(task)["id"],
            run_of(&first, task).expect(task)["id"]
        );
    }
    // The original is unchanged.
    let (_, original) = app
        .get(&format!("/api/v1/acme/executions/{first_id}"))
        .await;
    assert_eq!(original["taskRunList"], first["taskRunList"]);

    // A task run of another execution is not found here.
    let other = run_of(&done, "one").expect("one")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/acme/executions/{first_id}/replay?taskRunId={other}");
    let (status, body) = app.send(Method::POST, &path, Some(&app.admin), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("No task found"),
        "{body}"
    );

    // Over gRPC too; and never for another tenant's caller.
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let replayed = client
        .replay_execution(call(
            pb::ReplayExecutionRequest {
                id: first_id.clone(),
                task_run_id: three.clone(),
                ..Default::default()
            },
            Some(&app.admin),
            Some("acme"),
        ))
        .await
        .expect("replayed over gRPC")
        .into_inner();
    wait_until(&app, "acme", &replayed.id, Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    let err = client
        .replay_execution(call(
            pb::ReplayExecutionRequest {
                id: first_id.clone(),
                task_run_id: three.clone(),
                ..Default::default()
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let path = format!("/api/v1/globex/executions/{first_id}/replay?taskRunId={three}");
    let (status, body) = app.send(Method::POST, &path, Some(&bob), None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn executions_are_replayed_and_paused_or_resumed_in_bulk() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    let greeting = "id: greet\nnamespace: company.team\ninputs:\n  - id: who\n    type: STRING\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: \"hello {{ inputs.who }}\"\n";
    create_flow(&app, "acme", greeting).await;
    create_flow(&app, "acme", SLOW).await;
    let (status, first) = app
        .post(
            "/api/v1/acme/executions/company.team/greet?wait=true&labels=team:data",
            json!({"who": "ann"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let first_id = id_of(&first);
    // A new revision; the replay runs the old one unless told otherwise.
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/acme/flows/company.team/greet",
            &app.admin,
            &greeting.replace("hello", "hi"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let replay = |query: &'static str| {
        let app = &app;
        let path = format!("/api/v1/acme/executions/{first_id}/replay{query}");
        async move { app.send(Method::POST, &path, Some(&app.admin), None).await }
    };
    let (status, again) = replay("").await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], first["id"]);
    assert_eq!(again["inputs"], json!({"who": "ann"}));
    assert_eq!(again["labels"]["team"], "data");
    assert_eq!(again["flowRevision"], 1);
    let done = wait_until(&app, "acme", &id_of(&again), Duration::from_secs(10), |e| {
        e["state"]["current"] == "SUCCESS"
    })
    .await;
    assert_eq!(
        run_of(&done, "say").expect("say")["outputs"]["value"],
        "hello ann"
    );
    let (status, newer) = replay("?revision=2").await;
    assert_eq!(
        (status, newer["flowRevision"].clone()),
        (200, json!(2)),
        "{newer}"
    );
    let (status, body) = replay("?taskRunId=x").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("No task found"),
        "{body}"
    );

    // Pause and resume by ids and by query.
    let a = start(&app, "acme", "company.team/slow").await;
    let b = start(&app, "acme", "company.team/slow").await;
    let (status, body) = app
        .post("/api/v1/acme/executions/pause/by-ids", json!([a, b]))
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(2)), "{body}");
    for id in [&a, &b] {
        wait_until(&app, "acme", id, Duration::from_secs(10), |e| {
            e["state"]["current"] == "PAUSED"
        })
        .await;
    }
    let (status, body) = app
        .post("/api/v1/acme/executions/pause/by-ids", json!([a]))
        .await;
    assert_eq!(
        status, 422,
        "a paused execution is not paused again: {body}"
    );
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/acme/executions/resume/by-query?flowId=slow",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!((status, body["count"].clone()), (200, json!(2)), "{body}");
    // A running execution is not replayed; nor by another tenant.
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/v1/acme/executions/{a}/replay"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, 400);
    tenant(&app, "globex").await;
    let bob = app.user("bob").await;
    app.bind(Some("globex"), "bob", "Admin", None).await;
    for path in [
        format!("/api/v1/acme/executions/{first_id}/replay"),
        format!("/api/v1/globex/executions/{first_id}/replay"),
    ] {
        let (status, body) = app.send(Method::POST, &path, Some(&bob), None).await;
        assert!(matches!(status, 403 | 404), "{path}: {status} {body}");
    }
    let mut client = ExecutionServiceClient::new(app.channel().await);
    let err = client
        .replay_execution(call(
            pb::ReplayExecutionRequest {
                id: first_id.clone(),
                ..Default::default()
            },
            Some(&bob),
            Some("acme"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::NotFound | Code::PermissionDenied),
        "{err:?}"
    );
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/globex/executions/pause/by-ids",
            Some(&bob),
            Some(json!([b])),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    for id in [&a, &b] {
        crate::executions::kill(&app, "acme", id).await;
    }
}

#[tokio::test]
async fn system_labels_are_aeries_own_everywhere() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    // In a flow's labels, as Kestra's validator says it.
    let (status, body) = app
        .yaml(
            Method::POST,
            "/api/v1/acme/flows",
            &app.admin,
            "id: f\nnamespace: company.team\nlabels:\n  system.owner: me\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("System labels can only be set by Kestra itself"),
        "{body}"
    );
    // At creation: only the correlation id may be carried on.
    create_flow(&app, "acme", HELLO).await;
    let (status, body) = app
        .post(
            "/api/v1/acme/executions/company.team/hello?labels=system.readOnly:true",
            json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/acme/executions/company.team/hello?labels=system.correlationId:chain-1",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["labels"]["system.correlationId"], "chain-1");
    // By a Labels task at run time: the task fails, naming it.
    create_flow(
        &app,
        "acme",
        "id: sneaky\nnamespace: company.team\ntasks:\n  - id: set\n    type: io.kestra.plugin.core.execution.Labels\n    labels: \"{{ '{\\\"system.owner\\\": \\\"me\\\"}' }}\"\n",
    )
    .await;
    let execution = run(&app, "acme", "company.team/sneaky", json!({})).await;
    assert_eq!(execution["state"]["current"], "FAILED", "{execution}");
    assert!(
        execution["labels"].get("system.owner").is_none(),
        "{execution}"
    );
    let (_, logs) = app
        .get(&format!("/api/v1/acme/logs/{}", id_of(&execution)))
        .await;
    assert!(
        logs.to_string().contains("System labels can only be set"),
        "{logs}"
    );
}

#[tokio::test]
async fn label_keys_are_checked_at_creation_and_on_change() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    tenant(&app, "acme").await;
    create_flow(&app, "acme", HELLO).await;
    for bad in ["%20team:x", "te%00am:x", &format!("{}:x", "k".repeat(129))] {
        let (status, body) = app
            .post(
                &format!("/api/v1/acme/executions/company.team/hello?labels={bad}"),
                json!({}),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let done = run(&app, "acme", "company.team/hello", json!({})).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/acme/executions/{}/labels", id_of(&done)),
            json!([{"key": "team\u{0}", "value": "x"}]),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, page) = app.get("/api/v1/acme/executions/search").await;
    assert_eq!(
        page["total"], 1,
        "nothing was created by the refused calls: {page}"
    );
}

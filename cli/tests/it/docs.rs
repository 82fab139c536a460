//! The docs say what the binary accepts and serves: every configuration
//! key (and its environment variable) in docs/configuration.md, every route
//! in docs/api.md's route reference, and every route of the contract in
//! docs/design.md. A key or route added, renamed or removed without its
//! docs fails here.

use std::collections::BTreeSet;

use crate::app::{Mode, TestApp};

fn doc(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/").to_owned() + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `(METHOD, path)` with every path parameter written `{}`.
type Route = (String, String);

fn normalized(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// A documented path in both URL forms when it carries `{t}`.
fn forms(path: &str) -> Vec<String> {
    if path.contains("{t}") {
        vec![path.replace("{t}", ""), path.replace("{t}", "/{tenant}")]
    } else {
        vec![path.to_owned()]
    }
}

/// What the binary serves with multi-tenancy and the default tenant on:
/// its OpenAPI document's operations, and the document itself.
async fn served() -> BTreeSet<Route> {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (status, openapi) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut routes = BTreeSet::from([("GET".to_owned(), "/api/v1/openapi.json".to_owned())]);
    for (path, item) in openapi["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), normalized(path)));
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_route_reference_lists_exactly_the_served_routes() {
    let served = served().await;
    let api = doc("api.md");
    let start = api.find("## Route reference").expect("the section");
    let section = &api[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut listed = BTreeSet::from([("GET".to_owned(), "/api/v1/openapi.json".to_owned())]);
    for line in section
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
    {
        let cells: Vec<&str> = line.split(" | ").collect();
        let method = cells[0].trim_start_matches("| ").trim().to_owned();
        let path = cells[1].trim().trim_matches('`');
        for form in forms(path) {
            listed.insert((method.clone(), normalized(&form)));
        }
    }
    let unlisted: Vec<_> = served.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&served).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "docs/api.md's route reference differs from what is served:\n served, not listed: {unlisted:?}\n listed, not served: {gone:?}"
    );
}

/// docs/design.md's REST table, as written there: `METHOD[/METHOD] path`,
/// where `...` stands for the row's `/api/v1{t}` prefix and `a\|b`
/// for either segment.
fn design_routes() -> Vec<(Vec<String>, String)> {
    let design = doc("design.md");
    let start = design.find("## 3. REST surface").expect("section 3");
    let end = design.find("## 4. gRPC surface").expect("section 4");
    let mut routes = Vec::new();
    for cell in design[start..end].split('`').skip(1).step_by(2) {
        let Some((methods, path)) = cell.split_once(' ') else {
            continue;
        };
        let methods: Vec<String> = methods.split('/').map(str::to_owned).collect();
        let known = ["GET", "POST", "PUT", "DELETE", "PATCH"];
        if !methods.iter().all(|m| known.contains(&m.as_str())) {
            continue;
        }
        let path = path.split(['?', ' ']).next().unwrap_or_default();
        let path = path
            .strip_prefix("...")
            .map_or(path.to_owned(), |rest| format!("/api/v1{{t}}{rest}"));
        // Each `a\|b` segment in turn.
        let mut alternatives = vec![String::new()];
        for segment in path.split('/').skip(1) {
            let choices: Vec<&str> = segment.split("\\|").collect();
            alternatives = alternatives
                .iter()
                .flat_map(|head| choices.iter().map(move |c| format!("{head}/{c}")))
                .collect();
        }
        for alternative in alternatives {
            routes.push((methods.clone(), alternative));
        }
    }
    routes
}

#[tokio::test]
async fn every_route_of_the_design_contract_is_served() {
    let served = served().await;
    let routes = design_routes();
    assert!(routes.len() > 60, "the table was read: {routes:?}");
    let mut missing = Vec::new();
    for (methods, path) in routes {
        for method in methods {
            for form in forms(&path) {
                let route = (method.clone(), normalized(&form));
                if !served.contains(&route) {
                    missing.push(route);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/design.md names routes that are not served: {missing:?}"
    );
}

#[test]
fn every_configuration_key_and_variable_is_documented_and_nothing_else() {
    let configuration = doc("configuration.md");
    let mut documented = BTreeSet::new();
    for line in configuration.lines().filter(|l| l.starts_with("| `aerie.")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells[1].trim_matches('`').trim_start_matches("aerie.");
        let variable = cells[2].trim_matches('`');
        // `<svc>` stands for each service's own key.
        let services: &[&str] = if key.contains("<svc>") {
            &["tenant", "auth", "flow", "execution"]
        } else {
            &[""]
        };
        for service in services {
            let key = key.replace("<svc>", service);
            let variable = variable.replace("<SVC>", &service.to_uppercase());
            let expected = format!("AERIE_{}", key.to_uppercase().replace(['.', '-'], "_"));
            assert_eq!(variable, expected, "the variable of aerie.{key}");
            documented.insert(key);
        }
    }
    let accepted: BTreeSet<String> = aerie_common::config::KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/configuration.md's keys differ from what the binary accepts:\n accepted, not documented: {undocumented:?}\n documented, not accepted: {unknown:?}"
    );
}

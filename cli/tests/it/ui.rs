//! The web UI through real HTTP: sessions, the tenant dropdown, tenant
//! isolation of pages, CSRF, escaping and the URL forms of each mode. (The
//! browser test in `.ci/ui-browser.py` drives the same pages in Chromium.)

use std::collections::HashMap;

use crate::app::{ADMIN, Mode, TestApp, http_client};
use reqwest::Method;
use serde_json::json;

/// A browser's view of the UI: one session cookie, no redirects followed.
struct Browser {
    http: String,
    client: reqwest::Client,
    session: Option<String>,
}

/// Status, headers and body of a page.
struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[at..at + 32].to_owned()
    }

    /// The values of the tenant dropdown's options.
    fn tenant_options(&self) -> Vec<String> {
        let start = self.body.find("id=\"tenant-select\"").expect("dropdown");
        let end = start + self.body[start..].find("</select>").expect("end");
        self.body[start..end]
            .split("<option value=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').expect("quote")].to_owned())
            .filter(|value| !value.is_empty())
            .collect()
    }
}

fn cookie_value(set_cookie: &str, name: &str) -> Option<String> {
    let (pair, _) = set_cookie.split_once(';').unwrap_or((set_cookie, ""));
    let (key, value) = pair.split_once('=')?;
    (key == name).then(|| value.to_owned())
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        let _ = http_client();
        Browser {
            http: app.http.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            session: None,
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        cookies: &[String],
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut request = self.client.request(method, format!("{}{path}", self.http));
        let mut all: Vec<String> = cookies.to_vec();
        if let Some(session) = &self.session {
            all.push(format!("aerie_session={session}"));
        }
        if !all.is_empty() {
            request = request.header("cookie", all.join("; "));
        }
        if let Some(form) = form {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter())
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.expect("request");
        Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, &[], None).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, &[], Some(form)).await
    }

    /// Signs in through the form, as a browser does.
    async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/ui/auths/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let login_cookie = form
            .set_cookies()
            .iter()
            .find_map(|c| cookie_value(c, "aerie_login"))
            .expect("login cookie");
        let csrf = form.csrf();
        let answer = self
            .request(
                Method::POST,
                "/ui/auths/login",
                &[format!("aerie_login={login_cookie}")],
                Some(&[
                    ("csrf", &csrf),
                    ("next", "/ui"),
                    ("username", username),
                    ("password", password),
                ]),
            )
            .await;
        if let Some(session) = answer
            .set_cookies()
            .iter()
            .find_map(|c| cookie_value(c, "aerie_session"))
            .filter(|v| !v.is_empty())
        {
            self.session = Some(session);
        }
        answer
    }
}

/// Tenants `a`, `b` and `c`, each with flow `ns/f`; user `u` is Admin in
/// `a` and `b` only. Returns a token of an Admin of each tenant, by id.
async fn three_tenants(app: &TestApp) -> HashMap<&'static str, String> {
    app.user("u").await;
    let mut admins = HashMap::new();
    for tenant in ["a", "b", "c"] {
        app.create_tenant(tenant).await;
        let username = format!("admin-of-{tenant}");
        let token = app.user(&username).await;
        app.bind(Some(tenant), &username, "Admin", None).await;
        let source = format!(
            "id: f\nnamespace: ns\ndescription: flow of {tenant}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: secret of {tenant}\n"
        );
        let (status, body) = app
            .yaml(
                Method::POST,
                &format!("/api/v1/{tenant}/flows"),
                &token,
                &source,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        admins.insert(tenant, token);
    }
    app.bind(Some("a"), "u", "Admin", None).await;
    app.bind(Some("b"), "u", "Admin", None).await;
    admins
}

#[tokio::test]
async fn sign_in_keeps_the_token_in_a_cookie_scripts_cannot_read_and_sign_out_ends_it() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.create_tenant("a").await;
    app.user("u").await;
    app.bind(Some("a"), "u", "Admin", None).await;
    let mut browser = Browser::new(&app);

    let page = browser.get("/ui/a/flows").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/ui/auths/login?next=%2Fui%2Fa%2Fflows");

    let wrong = browser.sign_in("u", "not-the-password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(
        wrong.body.contains("id=\"login-problem\""),
        "{}",
        wrong.body
    );
    assert!(browser.session.is_none());

    let answer = browser.sign_in("u", "u-password").await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("aerie_session="))
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=900"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The server listens on loopback: a local install served over HTTP.
    assert!(!cookie.contains("Secure"), "{cookie}");

    let token = browser.session.clone().expect("signed in");
    let page = browser.get("/ui/a/flows").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains(&token), "the token is never in a page");
    for (header, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.headers[header], value);
    }
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!page.body.contains("<script>"), "no inline script");

    // Signing in without the sign-in form's own cookie is refused.
    let forged = browser
        .post(
            "/ui/auths/login",
            &[
                ("csrf", "0123"),
                ("username", "u"),
                ("password", "u-password"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);

    let out = browser
        .post("/ui/auths/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("aerie_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        out.set_cookies()
    );
    // Signing out ended the token itself: replayed, it is refused by the
    // pages and by the API within 5 s.
    let since = std::time::Instant::now();
    loop {
        let replayed = browser.get("/ui/a/flows").await;
        let api = app
            .send(Method::GET, "/api/v1/a/flows/search", Some(&token), None)
            .await
            .0;
        if replayed.status == 303 && api == 401 {
            break;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(5),
            "a signed-out token still works after 5 s ({} / {api})",
            replayed.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A stale or forged cookie is no session.
    browser.session = Some("not-a-token".to_owned());
    assert_eq!(browser.get("/ui/a/flows").await.status, 303);
}

#[tokio::test]
async fn the_dropdown_lists_exactly_the_callers_tenants_and_others_are_not_found() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let (status, started) = app
        .send(
            Method::POST,
            "/api/v1/c/executions/ns/f?wait=true",
            Some(&admins["c"]),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let foreign = started["id"].as_str().expect("id").to_owned();

    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let home = browser.get("/ui").await;
    assert_eq!(home.location(), "/ui/a/flows");

    let flows_of_a = browser.get("/ui/a/flows").await;
    assert_eq!(flows_of_a.status, 200, "{}", flows_of_a.body);
    assert_eq!(flows_of_a.tenant_options(), ["a", "b"]);
    assert!(flows_of_a.body.contains("flow of a"));
    assert!(!flows_of_a.body.contains("flow of b") && !flows_of_a.body.contains("flow of c"));

    // Switching keeps the kind of page.
    let switch = browser.get("/ui/me/tenant?to=b&page=executions").await;
    assert_eq!(switch.location(), "/ui/b/executions");
    let flows_of_b = browser.get("/ui/b/flows").await;
    assert!(flows_of_b.body.contains("flow of b") && !flows_of_b.body.contains("flow of a"));

    // Tenant c exists and has the same ids: it is "not found", as an
    // unknown tenant is, on every page and however the URL is made.
    let unknown = browser.get("/ui/nosuch/flows").await;
    assert_eq!(unknown.status, 404);
    for path in [
        "/ui/c/flows".to_owned(),
        "/ui/c/flows/ns/f".to_owned(),
        "/ui/c/executions".to_owned(),
        format!("/ui/c/executions/ns/f/{foreign}"),
        format!("/ui/c/executions/ns/f/{foreign}/live"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(
            page.body.contains("tenant &#x27;c&#x27; not found"),
            "{path}"
        );
        assert!(!page.body.contains("secret of c") && !page.body.contains("flow of c"));
    }
    // c's execution id under a tenant u may use: still not found.
    for path in [
        format!("/ui/a/executions/ns/f/{foreign}"),
        format!("/ui/a/executions/ns/f/{foreign}/live"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(!page.body.contains("secret of c"), "{path}");
    }
    let kill = browser
        .post(
            &format!("/ui/a/executions/ns/f/{foreign}/kill"),
            &[("csrf", &flows_of_a.csrf())],
        )
        .await;
    assert_eq!(kill.status, 404);

    // Administration is not offered to a tenant Admin, not even by a
    // hand-made post.
    assert!(!flows_of_a.body.contains("href=\"/ui/tenants\""));
    assert_eq!(browser.get("/ui/tenants").await.status, 403);
    let delete = browser
        .post("/ui/tenants/a/delete", &[("csrf", &flows_of_a.csrf())])
        .await;
    assert_eq!(delete.status, 403);
    assert_eq!(app.get("/api/v1/tenants/a").await.0, 200, "a still exists");

    // A session cookie planted beside the real one voids both.
    let planted = browser
        .request(
            Method::GET,
            "/ui/a/flows",
            &["aerie_session=planted".to_owned()],
            None,
        )
        .await;
    assert_eq!(planted.status, 303);
}

#[tokio::test]
async fn forms_need_the_sessions_token_and_this_sites_origin() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let csrf = browser.get("/ui/a/flows").await.csrf();
    let source = "id: g\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

    let missing = browser.post("/ui/a/flows/new", &[("source", source)]).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let wrong = browser
        .post(
            "/ui/a/flows/new",
            &[
                ("csrf", "00000000000000000000000000000000"),
                ("source", source),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    let same_site = browser
        .request(
            Method::POST,
            "/ui/a/flows/new",
            &[],
            Some(&[("csrf", &csrf), ("source", source)]),
        )
        .await;
    assert_eq!(same_site.status, 303, "same origin, right token: saved");
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/a/flows/ns/g",
            Some(&admins["a"]),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Another site's page posting the right-looking form is refused.
    let mut evil = browser
        .client
        .post(format!("{}/ui/a/flows/new", browser.http))
        .header("origin", "https://evil.example")
        .header(
            "cookie",
            format!(
                "aerie_session={}",
                browser.session.clone().expect("session")
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded");
    evil = evil.body(format!("csrf={csrf}&source=x"));
    assert_eq!(evil.send().await.expect("post").status(), 403);

    // axum's own refusals are pages too, with the page's headers.
    for (path, status) in [
        ("/ui/a/flows/ns/f/disabled", 405),
        ("/ui/a/namespaces/%FF", 400),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert!(
            page.body.contains("id=\"error-message\""),
            "{path}: {}",
            page.body
        );
        assert!(
            page.headers.contains_key("content-security-policy"),
            "{path}"
        );
    }

    // A form is urlencoded; anything else is refused.
    let json = browser
        .client
        .post(format!("{}/ui/a/flows/new", browser.http))
        .header(
            "cookie",
            format!(
                "aerie_session={}",
                browser.session.clone().expect("session")
            ),
        )
        .header("content-type", "text/plain")
        .body(format!("csrf={csrf}&source=x"));
    assert_eq!(json.send().await.expect("post").status(), 415);
}

#[tokio::test]
async fn yaml_problems_show_at_their_line_and_tenant_values_render_as_text() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let csrf = browser.get("/ui/a/flows").await.csrf();

    let broken =
        "id: h\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n";
    let page = browser
        .post("/ui/a/flows/new", &[("csrf", &csrf), ("source", broken)])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("line 5, column 11"), "{}", page.body);
    assert!(
        page.body.contains("io.kestra.plugin.core.log.Nope"),
        "text kept"
    );
    let (status, _) = app
        .send(
            Method::GET,
            "/api/v1/a/flows/ns/h",
            Some(&admins["a"]),
            None,
        )
        .await;
    assert_eq!(status, 404, "nothing saved");

    let hostile = "id: x\nnamespace: ns\ndescription: \"<script>alert(1)</script>\"\ninputs:\n  - id: who\n    type: STRING\n    defaults: you\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"<img src=x onerror=alert(2)> {{ inputs.who }}\"\n";
    let saved = browser
        .post("/ui/a/flows/new", &[("csrf", &csrf), ("source", hostile)])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location(), "/ui/a/flows/ns/x");
    let flow = browser.get("/ui/a/flows/ns/x").await;
    assert!(
        flow.body.contains("&lt;script&gt;alert(1)"),
        "{}",
        flow.body
    );
    assert!(!flow.body.contains("<script>alert"));
    assert!(flow.body.contains("name=\"input.who\""), "the execute form");

    let started = browser
        .post(
            "/ui/a/flows/ns/x/execute",
            &[("csrf", &csrf), ("input.who", "<b>me</b>")],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let url = started.location().to_owned();
    assert!(url.starts_with("/ui/a/executions/ns/x/"), "{url}");
    let mut page = browser.get(&url).await;
    for _ in 0..50 {
        if page.body.contains("data-ended=\"true\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = browser.get(&format!("{url}/live")).await;
    }
    assert!(page.body.contains("state-SUCCESS"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;img src=x onerror=alert(2)&gt; &lt;b&gt;me&lt;")
    );
    assert!(!page.body.contains("<img") && !page.body.contains("<b>me"));
}

#[tokio::test]
async fn administration_creates_tenants_that_join_the_creators_dropdown() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    app.user("creator").await;
    app.bind(None, "creator", "Admin", None).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("creator", "creator-password").await;
    let admin = browser.get("/ui/tenants").await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    let before = browser.get("/ui/flows").await;
    assert_eq!(before.tenant_options(), ["default"]);

    let created = browser
        .post(
            "/ui/tenants",
            &[
                ("csrf", &admin.csrf()),
                ("id", "fresh"),
                ("name", "Fresh <i>one</i>"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let after = browser.get("/ui/flows").await;
    assert_eq!(after.tenant_options(), ["default", "fresh"]);
    assert!(
        after.body.contains("Fresh &lt;i&gt;one&lt;"),
        "{}",
        after.body
    );
    assert_eq!(browser.get("/ui/fresh/flows").await.status, 200);

    let duplicate = browser
        .post(
            "/ui/tenants",
            &[("csrf", &admin.csrf()), ("id", "fresh"), ("name", "again")],
        )
        .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
}

#[tokio::test]
async fn a_super_admin_who_creates_a_tenant_holds_its_admin_role_unless_the_field_is_emptied() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN.0, ADMIN.1).await;
    let admin = browser.get("/ui/tenants").await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert!(
        admin.body.contains(r#"name="adminUsername" value="admin""#),
        "the Admin field starts with the creator: {}",
        admin.body
    );
    let before = browser.get("/ui/tenants").await;
    assert!(before.tenant_options().is_empty(), "no binding yet");

    let created = browser
        .post(
            "/ui/tenants",
            &[
                ("csrf", &admin.csrf()),
                ("id", "made"),
                ("name", "Made"),
                ("adminUsername", ADMIN.0),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let listed = browser.get("/ui/tenants").await;
    assert_eq!(listed.tenant_options(), ["made"]);
    assert!(
        listed.body.contains(r#"<a href="/ui/made/flows">made</a>"#),
        "{}",
        listed.body
    );
    assert_eq!(browser.get("/ui/made/flows").await.status, 200);
    let access = browser.get("/ui/made/access").await;
    assert!(
        access.body.contains("<td>admin</td><td>Admin</td>"),
        "the creator is listed among the tenant's users: {}",
        access.body
    );

    let bare = browser
        .post(
            "/ui/tenants",
            &[
                ("csrf", &admin.csrf()),
                ("id", "bare"),
                ("name", "Bare"),
                ("adminUsername", ""),
            ],
        )
        .await;
    assert_eq!(bare.status, 303, "{}", bare.body);
    let listed = browser.get("/ui/tenants").await;
    assert_eq!(listed.tenant_options(), ["made"], "bare binds nobody");
    assert!(listed.body.contains("<td>bare</td>"), "{}", listed.body);
    assert_ne!(browser.get("/ui/bare/flows").await.status, 200);

    let unknown = browser
        .post(
            "/ui/tenants",
            &[
                ("csrf", &admin.csrf()),
                ("id", "ghost"),
                ("name", "Ghost"),
                ("adminUsername", "nobody-here"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(
        unknown
            .body
            .contains("user &#x27;nobody-here&#x27; does not exist")
            || unknown.body.contains("user 'nobody-here' does not exist"),
        "{}",
        unknown.body
    );
    assert!(
        unknown
            .body
            .contains(r#"name="adminUsername" value="nobody-here""#),
        "the form keeps what was typed"
    );
    let listed = browser.get("/ui/tenants").await;
    assert!(
        !listed.body.contains("ghost"),
        "a refused tenant is not half-created: {}",
        listed.body
    );
}

#[tokio::test]
async fn without_the_default_tenant_only_named_tenant_pages_exist() {
    let app = TestApp::start(Mode::MultiWithoutDefault).await;
    let admins = three_tenants(&app).await;
    assert_eq!(admins.len(), 3);
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let flows = browser.get("/ui/a/flows").await;
    assert_eq!(flows.status, 200, "{}", flows.body);
    assert_eq!(flows.tenant_options(), ["a", "b"], "no default tenant");
    for path in ["/ui/flows", "/ui/executions", "/ui/c/flows"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    assert_eq!(
        browser
            .get("/ui/me/tenant?to=b&page=flows")
            .await
            .location(),
        "/ui/b/flows"
    );
}

#[tokio::test]
async fn secure_cookies_are_host_only_and_sent_over_tls_only_when_configured() {
    let app = TestApp::start_with(Mode::MultiWithDefault, |config| {
        config.ui.secure_cookies = Some(true);
    })
    .await;
    app.user("u").await;
    let browser = Browser::new(&app);
    let form = browser.get("/ui/auths/login").await;
    let login_cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-aerie_login="))
        .expect("a __Host- login cookie");
    let csrf = form.csrf();
    let value = cookie_value(&login_cookie, "__Host-aerie_login").expect("value");
    let answer = browser
        .request(
            Method::POST,
            "/ui/auths/login",
            &[format!("__Host-aerie_login={value}")],
            Some(&[
                ("csrf", &csrf),
                ("next", "/ui"),
                ("username", "u"),
                ("password", "u-password"),
            ]),
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let session = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-aerie_session="))
        .expect("session cookie");
    for attribute in [
        "Secure",
        "Path=/;",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=900",
    ] {
        assert!(session.contains(attribute), "{session}");
    }
}

#[tokio::test]
async fn without_multi_tenancy_pages_have_no_tenant_segment() {
    let app = TestApp::start(Mode::SingleTenant).await;
    app.user("u").await;
    app.bind(None, "u", "Admin", None).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    assert_eq!(browser.get("/ui").await.location(), "/ui/flows");
    assert_eq!(browser.get("/ui/flows").await.status, 200);
    assert_eq!(browser.get("/ui/executions").await.status, 200);
    assert_eq!(browser.get("/ui/acme/flows").await.status, 404);
    assert_eq!(browser.get("/ui/tenants").await.status, 404);

    // The super admin, bound nowhere, lands on Administration -> Users
    // (Tenants exist with multi-tenancy only).
    let mut admin = Browser::new(&app);
    admin.sign_in(ADMIN.0, ADMIN.1).await;
    let home = admin.get("/ui").await;
    assert_eq!(home.location(), "/ui/users");
    assert_eq!(admin.get("/ui/users").await.status, 200);
    // Browsers ask for an icon: nothing, and no 401.
    let icon = Browser::new(&app).get("/favicon.ico").await;
    assert_eq!(icon.status, 204);
}

#[tokio::test]
async fn namespace_trigger_and_audit_pages_show_keys_never_values_and_only_their_tenant() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    for (tenant, key) in [("a", "API_KEY"), ("c", "C_ONLY_KEY")] {
        let (status, body) = app
            .send(
                Method::PUT,
                &format!("/api/v1/{tenant}/namespaces/ns/secrets/{key}"),
                Some(&admins[tenant]),
                Some(json!({"value": format!("secret-value-of-{tenant}")})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let hooked = "id: hooked\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: webhook-key-of-a\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 2 * * *\"\n";
    let (status, body) = app
        .yaml(Method::POST, "/api/v1/a/flows", &admins["a"], hooked)
        .await;
    assert_eq!(status, 200, "{body}");

    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let namespace = browser.get("/ui/a/namespaces/ns").await;
    assert_eq!(namespace.status, 200, "{}", namespace.body);
    assert!(namespace.body.contains("API_KEY"));
    assert!(
        !namespace.body.contains("secret-value-of"),
        "no secret value"
    );
    assert!(!namespace.body.contains("C_ONLY_KEY"), "only a's keys");
    assert_eq!(
        browser.get("/ui/a/namespaces?name=ns").await.location(),
        "/ui/a/namespaces/ns"
    );

    let triggers = browser.get("/ui/a/triggers").await;
    assert!(triggers.body.contains("nightly") && triggers.body.contains("0 2 * * *"));
    assert!(
        !triggers.body.contains("webhook-key-of-a"),
        "a webhook key is a credential"
    );
    // Disabled from the page, without a new revision; enabled again.
    let toggle = "/ui/a/triggers/ns/hooked/nightly/toggle";
    for (disabled, label) in [
        ("true", "Enable trigger nightly"),
        ("false", "Disable trigger nightly"),
    ] {
        let done = browser
            .post(
                toggle,
                &[("csrf", &triggers.csrf()), ("disabled", disabled)],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), "/ui/a/triggers?namespace=ns&q=hooked");
        let (status, found) = app
            .send(
                Method::GET,
                "/api/v1/a/triggers/search?q=nightly",
                Some(&admins["a"]),
                None,
            )
            .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(
            found["results"][0]["disabled"].as_bool(),
            Some(disabled == "true"),
            "{found}"
        );
        assert_eq!(found["results"][0]["flowRevision"], 1, "no new revision");
        assert!(browser.get("/ui/a/triggers").await.body.contains(label));
    }
    let foreign = browser
        .post(
            "/ui/c/triggers/ns/hooked/nightly/toggle",
            &[("csrf", &triggers.csrf()), ("disabled", "true")],
        )
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);

    let audit = browser.get("/ui/a/auditlogs").await;
    assert_eq!(audit.status, 200, "{}", audit.body);

    assert!(!audit.body.contains("secret-value-of"));

    for path in ["/ui/c/namespaces/ns", "/ui/c/triggers", "/ui/c/auditlogs"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("C_ONLY_KEY"), "{path}");
    }
}

#[tokio::test]
async fn a_tenant_admin_manages_bindings_of_their_tenant_only_and_users_are_for_the_super_admin() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    three_tenants(&app).await;
    app.user("newcomer").await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let access = browser.get("/ui/a/access").await;
    assert_eq!(access.status, 200, "{}", access.body);
    assert!(access.body.contains("admin-of-a") && !access.body.contains("admin-of-c"));

    let bound = browser
        .post(
            "/ui/a/access/bindings",
            &[
                ("csrf", &access.csrf()),
                ("type", "USER"),
                ("subject", "newcomer"),
                ("role", "Admin"),
                ("namespace", ""),
            ],
        )
        .await;
    assert_eq!(bound.status, 303, "{}", bound.body);
    let mut newcomer = Browser::new(&app);
    newcomer.sign_in("newcomer", "newcomer-password").await;
    assert_eq!(newcomer.get("/ui").await.location(), "/ui/a/flows");

    // The super admin is out of a tenant Admin's reach, here as in the API.
    let refused = browser
        .post(
            "/ui/a/access/bindings",
            &[
                ("csrf", &access.csrf()),
                ("type", "USER"),
                ("subject", crate::app::ADMIN.0),
                ("role", "Admin"),
            ],
        )
        .await;
    assert!(
        refused.status == 403 || refused.status == 404,
        "{}",
        refused.status
    );
    assert!(
        refused.body.contains("id=\"binding-problem\""),
        "{}",
        refused.body
    );
    // Another tenant's access page: not found.
    assert_eq!(browser.get("/ui/c/access").await.status, 404);

    // Users are the super admin's: a tenant Admin is refused.
    let users = browser.get("/ui/users").await;
    assert_eq!(users.status, 403, "{}", users.body);
    let mut admin = Browser::new(&app);
    admin
        .sign_in(crate::app::ADMIN.0, crate::app::ADMIN.1)
        .await;
    let users = admin.get("/ui/users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("newcomer"));
    let created = admin
        .post(
            "/ui/users",
            &[
                ("csrf", &users.csrf()),
                ("username", "made-in-ui"),
                ("password", "made-in-ui-password"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    crate::app::login(&app.http, "made-in-ui", "made-in-ui-password").await;

    let users = admin.get("/ui/users").await;
    let row = users.body.find(">made-in-ui").expect("listed");
    let action = row + users.body[row..].find("/ui/users/").expect("a delete form") + 10;
    let id = &users.body[action..action + 36];
    let deleted = admin
        .post(
            &format!("/ui/users/{id}/delete"),
            &[("csrf", &users.csrf())],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let response = http_client()
        .post(format!("{}/api/v1/auths/token", app.http))
        .json(&json!({"username": "made-in-ui", "password": "made-in-ui-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 401, "a deleted user cannot sign in");
}

#[tokio::test]
async fn revisions_show_their_changes_and_files_download_from_their_own_execution_only() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let writer = |content: &str| {
        format!(
            "id: writer\nnamespace: ns\ntasks:\n  - id: file\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{content}\"\n"
        )
    };
    let (status, body) = app
        .yaml(
            Method::POST,
            "/api/v1/a/flows",
            &admins["a"],
            &writer("<b>one</b>"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/a/flows/ns/writer",
            &admins["a"],
            &writer("two"),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let flow = browser.get("/ui/a/flows/ns/writer").await;
    assert!(flow.body.contains("/diff?from=1&amp;to=2"), "{}", flow.body);
    let diff = browser.get("/ui/a/flows/ns/writer/diff").await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    assert!(diff.body.contains("class=\"diff-removed\""));
    assert!(
        diff.body.contains("&lt;b&gt;one&lt;&#x2f;b&gt;"),
        "escaped: {}",
        diff.body
    );
    assert!(diff.body.contains("class=\"diff-added\""));
    assert_eq!(browser.get("/ui/c/flows/ns/f/diff").await.status, 404);

    let (status, started) = app
        .send(
            Method::POST,
            "/api/v1/a/executions/ns/writer?wait=true",
            Some(&admins["a"]),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().expect("id");
    let today = chrono::Utc::now().date_naive();
    let listed = browser
        .get(&format!(
            "/ui/a/executions?startDate={today}&endDate={today}"
        ))
        .await;
    assert!(listed.body.contains(id), "{}", listed.body);
    let tomorrow = today.succ_opt().expect("a next day");
    let none = browser
        .get(&format!("/ui/a/executions?startDate={tomorrow}"))
        .await;
    assert!(!none.body.contains(id) && none.body.contains("0 executions"));
    assert_eq!(
        browser.get("/ui/a/executions?startDate=soon").await.status,
        400
    );
    let page = browser
        .get(&format!("/ui/a/executions/ns/writer/{id}"))
        .await;
    let at = page.body.find("id=\"files\"").expect("a files list");
    let href_at = at + page.body[at..].find("href=\"").expect("a link") + 6;
    let href = page.body[href_at..href_at + page.body[href_at..].find('"').expect("end")]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let download = browser.get(&href).await;
    assert_eq!(download.status, 200, "{href}: {}", download.body);
    assert_eq!(download.body, "two");
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment;")
    );
    // The same file under another flow's path, or another tenant's: no.
    let elsewhere = href.replace("/ns/writer/", "/ns/f/");
    assert_eq!(browser.get(&elsewhere).await.status, 404);
    assert_eq!(
        browser.get(&href.replace("/ui/a/", "/ui/c/")).await.status,
        404
    );
    // An ended execution offers Restart, not Kill, in its live part; its
    // log lines download as text, from its own tenant only.
    assert!(page.body.contains("id=\"restart\"") && !page.body.contains("id=\"kill\""));
    assert!(page.body.contains("id=\"logs-download\""));
    let logs = browser
        .get(&format!("/ui/a/executions/ns/writer/{id}/logs"))
        .await;
    assert_eq!(logs.status, 200, "{}", logs.body);
    assert!(
        logs.headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment;")
    );
    assert_eq!(
        browser
            .get(&format!("/ui/c/executions/ns/writer/{id}/logs"))
            .await
            .status,
        404
    );
}

/// A SECRET input is asked for as a password: not shown, not prefilled
/// with its default, not remembered by the browser.
#[tokio::test]
async fn secret_inputs_are_asked_for_as_passwords() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let flow = "id: keyed\nnamespace: ns\ninputs:\n  - id: token\n    type: SECRET\n    defaults: fallback-value\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.token }}\"\n";
    let (status, body) = app
        .yaml(Method::POST, "/api/v1/a/flows", &admins["a"], flow)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let page = browser.get("/ui/a/flows/ns/keyed").await;
    let field = page
        .body
        .split("<input")
        .find(|tag| tag.contains("name=\"input.token\""))
        .and_then(|tag| tag.split('>').next())
        .expect("the token field");
    assert!(field.contains("type=\"password\""), "{field}");
    assert!(field.contains("autocomplete=\"off\""), "{field}");
    assert!(!field.contains("fallback-value"), "{field}");
}

#[tokio::test]
async fn file_inputs_are_sent_as_multipart_with_the_csrf_token() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let flow = "id: upload\nnamespace: ns\ninputs:\n  - id: doc\n    type: FILE\n  - id: note\n    type: STRING\n    defaults: none\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.note }}\"\n";
    let (status, body) = app
        .yaml(Method::POST, "/api/v1/a/flows", &admins["a"], flow)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let page = browser.get("/ui/a/flows/ns/upload").await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("type=\"file\""));
    let csrf = page.csrf();
    let session = format!(
        "aerie_session={}",
        browser.session.clone().expect("session")
    );
    let send = |csrf: Option<&str>| {
        let mut form = reqwest::multipart::Form::new()
            .text("input.note", "hello")
            .part(
                "input.doc",
                reqwest::multipart::Part::bytes(b"file body".to_vec()).file_name("doc.txt"),
            );
        if let Some(csrf) = csrf {
            form = form.text("csrf", csrf.to_owned());
        }
        browser
            .client
            .post(format!("{}/ui/a/flows/ns/upload/execute", browser.http))
            .header("cookie", &session)
            .multipart(form)
            .send()
    };
    assert_eq!(send(None).await.expect("post").status(), 403);
    let started = send(Some(&csrf)).await.expect("post");
    assert_eq!(started.status(), 303);
    let url = started.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let id = url.rsplit('/').next().expect("id");
    let (status, execution) = app
        .send(
            Method::GET,
            &format!("/api/v1/a/executions/{id}"),
            Some(&admins["a"]),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(execution["inputs"]["note"], "hello");
    let uri = execution["inputs"]["doc"].as_str().expect("a file uri");
    assert!(
        uri.starts_with("kestra:///ns/upload/executions/") && uri.ends_with("/inputs/doc/doc.txt"),
        "{uri}"
    );
    // The uploaded file is offered for download on the execution's page.
    let page = browser.get(&url).await;
    assert!(page.body.contains("doc.txt"), "{}", page.body);
}

#[tokio::test]
async fn a_flow_is_disabled_and_enabled_as_a_new_revision() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let page = browser.get("/ui/a/flows/ns/f").await;
    assert!(page.body.contains(">Disable</button>"));
    let flow = |app: &TestApp| {
        let token = admins["a"].clone();
        let app_http = app.http.clone();
        async move {
            let response = http_client()
                .get(format!("{app_http}/api/v1/a/flows/ns/f"))
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            crate::app::read(response).await.1
        }
    };
    let off = browser
        .post(
            "/ui/a/flows/ns/f/disabled",
            &[("csrf", &page.csrf()), ("disabled", "true")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    let stored = flow(&app).await;
    assert_eq!(stored["disabled"], true);
    assert_eq!(stored["revision"], 2);
    assert!(
        stored["source"]
            .as_str()
            .unwrap()
            .contains("message: secret of a")
    );
    let page = browser.get("/ui/a/flows/ns/f").await;
    assert!(page.body.contains(">Enable</button>"));
    let on = browser
        .post(
            "/ui/a/flows/ns/f/disabled",
            &[("csrf", &page.csrf()), ("disabled", "false")],
        )
        .await;
    assert_eq!(on.status, 303);
    let stored = flow(&app).await;
    assert_eq!(
        (stored["disabled"].clone(), stored["revision"].clone()),
        (json!(false), json!(3))
    );
    // Another tenant's flow of the same id: not found, unchanged.
    let other = browser
        .post(
            "/ui/c/flows/ns/f/disabled",
            &[("csrf", &page.csrf()), ("disabled", "true")],
        )
        .await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn a_read_only_flow_is_shown_but_not_changed_from_the_pages() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let source = "id: f\nnamespace: ns\nlabels:\n  system.readOnly: \"true\"\n  team: data\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: kept in git\n";
    let (status, body) = app
        .yaml(Method::PUT, "/api/v1/a/flows/ns/f", &admins["a"], source)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let page = browser.get("/ui/a/flows/ns/f").await;
    assert!(page.body.contains("id=\"read-only\""), "{}", page.body);
    assert!(page.body.contains(" readonly>"), "{}", page.body);
    assert!(!page.body.contains(">Save</button>"));
    assert!(!page.body.contains(">Disable</button>"));
    // Forms posted by hand change nothing either.
    let saved = browser
        .post(
            "/ui/a/flows/ns/f",
            &[
                ("csrf", &page.csrf()),
                ("source", &source.replace("kept in git", "edited")),
            ],
        )
        .await;
    assert_eq!(saved.status, 409, "{}", saved.body);
    let off = browser
        .post(
            "/ui/a/flows/ns/f/disabled",
            &[("csrf", &page.csrf()), ("disabled", "true")],
        )
        .await;
    assert_eq!(off.status, 409, "{}", off.body);
    let (_, stored) = app
        .send(
            Method::GET,
            "/api/v1/a/flows/ns/f",
            Some(&admins["a"]),
            None,
        )
        .await;
    assert_eq!(stored["revision"], 2, "{stored}");
    assert_eq!(stored["disabled"], false);
    // Its executions do not carry the flow's system label; its own ones
    // they do.
    let (status, execution) = app
        .send(
            Method::POST,
            "/api/v1/a/executions/ns/f?wait=true",
            Some(&admins["a"]),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["labels"]["team"], "data", "{execution}");
    assert!(
        execution["labels"].get("system.readOnly").is_none(),
        "{execution}"
    );
    // b's flow of the same id stays editable.
    let page = browser.get("/ui/b/flows/ns/f").await;
    assert!(page.body.contains(">Save</button>"));
    // Only true or false, and only on the flow itself.
    let (status, body) = app
        .yaml(
            Method::PUT,
            "/api/v1/a/flows/ns/f",
            &admins["a"],
            &source.replace("\"true\"", "maybe"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn secrets_kv_roles_groups_and_service_accounts_are_managed_from_the_pages() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let admins = three_tenants(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("u", "u-password").await;
    let csrf = browser.get("/ui/a/namespaces/ns").await.csrf();
    let api = |path: String| {
        let token = admins["a"].clone();
        let http = app.http.clone();
        async move {
            let response = http_client()
                .get(format!("{http}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            crate::app::read(response).await
        }
    };

    // A secret: set (write-only), listed by key, deleted.
    let set = browser
        .post(
            "/ui/a/namespaces/ns/secrets",
            &[
                ("csrf", &csrf),
                ("key", "DB_PASSWORD"),
                ("value", "hunter2-value"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let page = browser.get("/ui/a/namespaces/ns").await;
    assert!(page.body.contains("DB_PASSWORD") && !page.body.contains("hunter2-value"));
    let (_, keys) = api("/api/v1/a/namespaces/ns/secrets".to_owned()).await;
    assert_eq!(keys["results"][0]["key"], "DB_PASSWORD");
    let bad = browser
        .post(
            "/ui/a/namespaces/ns/secrets",
            &[("csrf", &csrf), ("key", "bad key!"), ("value", "x")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"namespace-problem\""));
    let gone = browser
        .post(
            "/ui/a/namespaces/ns/secrets/DB_PASSWORD/delete",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.status, 303);
    let (_, keys) = api("/api/v1/a/namespaces/ns/secrets".to_owned()).await;
    assert_eq!(keys["total"], 0, "{keys}");

    // A KV entry: set with a type and a TTL, read back, deleted.
    let set = browser
        .post(
            "/ui/a/namespaces/ns/kv",
            &[
                ("csrf", &csrf),
                ("key", "threshold"),
                ("value", "42"),
                ("type", "NUMBER"),
                ("ttl", "PT1H"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let (status, entry) = api("/api/v1/a/namespaces/ns/kv/threshold".to_owned()).await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["value"], 42);
    assert!(entry["expirationDate"].is_string(), "{entry}");
    // Its value on its own page, escaped like every tenant value.
    let markup = browser
        .post(
            "/ui/a/namespaces/ns/kv",
            &[
                ("csrf", &csrf),
                ("key", "markup"),
                ("value", r#"{"html": "<script>alert(1)</script>"}"#),
            ],
        )
        .await;
    assert_eq!(markup.status, 303, "{}", markup.body);
    let listed = browser.get("/ui/a/namespaces/ns").await;
    assert!(
        listed
            .body
            .contains(r#"/namespaces/ns/kv/threshold" aria-label="Value of threshold""#),
        "{}",
        listed.body
    );
    let shown = browser.get("/ui/a/namespaces/ns/kv/threshold").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(r#"<pre id="kv-value-shown">42</pre>"#));
    let shown = browser.get("/ui/a/namespaces/ns/kv/markup").await;
    assert!(
        shown
            .body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            && !shown.body.contains("<script>alert"),
        "{}",
        shown.body
    );
    for path in [
        "/ui/c/namespaces/ns/kv/markup",
        "/ui/a/namespaces/ns/kv/missing",
    ] {
        assert_eq!(browser.get(path).await.status, 404, "{path}");
    }
    browser
        .post(
            "/ui/a/namespaces/ns/kv/threshold/delete",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        api("/api/v1/a/namespaces/ns/kv/threshold".to_owned())
            .await
            .0,
        404
    );

    // Another tenant's namespace: not found, nothing written.
    let foreign = browser
        .post(
            "/ui/c/namespaces/ns/secrets",
            &[("csrf", &csrf), ("key", "PLANTED"), ("value", "x")],
        )
        .await;
    assert_eq!(foreign.status, 404);

    // A role with two permissions, a group with a member, a service account
    // whose new token is shown once and works.
    let role = browser
        .request(
            Method::POST,
            "/ui/a/access/roles",
            &[],
            Some(&[
                ("csrf", &csrf),
                ("name", "Reader"),
                ("permission", "FLOW:READ"),
                ("permission", "EXECUTION:READ"),
            ]),
        )
        .await;
    assert_eq!(role.status, 303, "{}", role.body);
    let (_, roles) = api("/api/v1/a/roles".to_owned()).await;
    let reader = roles["results"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "Reader")
        .expect("Reader")
        .clone();
    assert_eq!(
        reader["permissions"],
        json!(["FLOW:READ", "EXECUTION:READ"])
    );

    browser
        .post("/ui/a/access/groups", &[("csrf", &csrf), ("name", "ops")])
        .await;
    let member = browser
        .post(
            "/ui/a/access/groups/ops/members",
            &[("csrf", &csrf), ("username", "admin-of-a")],
        )
        .await;
    assert_eq!(member.status, 303, "{}", member.body);
    let access = browser.get("/ui/a/access").await;
    assert!(
        access
            .body
            .contains("/access/groups/ops/members/admin-of-a/remove"),
        "{}",
        access.body
    );

    let account = browser
        .post(
            "/ui/a/access/service-accounts",
            &[("csrf", &csrf), ("name", "deployer")],
        )
        .await;
    assert_eq!(account.status, 303, "{}", account.body);
    let minted = browser
        .post(
            "/ui/a/access/service-accounts/deployer/tokens",
            &[("csrf", &csrf), ("token_name", "ci"), ("days", "1")],
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let at = minted
        .body
        .find("id=\"new-token\"")
        .expect("the token shown once");
    let pre = at + minted.body[at..].find("<pre>").expect("pre") + 5;
    let token = minted.body[pre..pre + minted.body[pre..].find("</pre>").expect("end")].to_owned();
    let later = browser.get("/ui/a/access").await;
    assert!(!later.body.contains(&token), "shown once only");
    browser
        .post(
            "/ui/a/access/bindings",
            &[
                ("csrf", &csrf),
                ("type", "SERVICE_ACCOUNT"),
                ("subject", "deployer"),
                ("role", "Reader"),
            ],
        )
        .await;
    let response = http_client()
        .get(format!("{}/api/v1/a/flows/search", app.http))
        .bearer_auth(&token)
        .send()
        .await
        .expect("search");
    assert_eq!(response.status(), 200);
}

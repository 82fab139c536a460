"""The web UI in a real browser: headless Chromium (Debian's package) driven
through chromedriver by Selenium, against a standalone server this script
starts on free ports with its own data directory. Screenshots of the main
pages go to target/ui-screenshots/.

usage: ui-browser.py <aerie binary>
"""
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (JavascriptException, NoSuchElementException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

aerie = sys.argv[1]
root = pathlib.Path(__file__).resolve().parent.parent
shots = root / "target" / "ui-screenshots"
shots.mkdir(parents=True, exist_ok=True)
ADMIN = ("admin", "ui-browser-admin-password")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


http_port, grpc_port = free_port(), free_port()
base = f"http://127.0.0.1:{http_port}"


def api(method, path, body=None, token=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", content_type)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def token_of(username, password):
    return api("POST", "/api/v1/auths/token", {"username": username, "password": password})["access_token"]


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok  {what}")


data_dir = tempfile.mkdtemp(prefix="aerie-ui-browser-")
env = {k: v for k, v in os.environ.items() if not k.startswith("AERIE_")}
env.update({
    "AERIE_DATA_DIR": data_dir,
    "AERIE_SERVER_HTTP_PORT": str(http_port),
    "AERIE_SERVER_GRPC_PORT": str(grpc_port),
    "AERIE_TENANTS_ENABLED": "true",
    "AERIE_SECURITY_SUPER_ADMIN_USERNAME": ADMIN[0],
    "AERIE_SECURITY_SUPER_ADMIN_PASSWORD": ADMIN[1],
})
log = open(os.path.join(data_dir, "server.log"), "w")
server = subprocess.Popen([aerie, "server", "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT)
driver = None
try:
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    admin = token_of(*ADMIN)

    # Tenants a, b, c with the same flow ids; the user is Admin in a and b;
    # the creator may create tenants (Admin in the default tenant).
    for tenant in ["a", "b", "c"]:
        api("POST", "/api/v1/tenants", {"id": tenant, "name": f"Tenant {tenant.upper()}"}, admin)
    for user in ["user", "creator", "owner"]:
        api("POST", "/api/v1/users", {"username": user, "password": f"{user}-password"}, admin)
    for tenant in ["a", "b"]:
        api("POST", f"/api/v1/{tenant}/bindings", {"type": "USER", "subject": "user", "role": "Admin"}, admin)
    for tenant in ["a", "b", "c"]:
        api("POST", f"/api/v1/{tenant}/bindings", {"type": "USER", "subject": "owner", "role": "Admin"}, admin)
    api("POST", "/api/v1/bindings", {"type": "USER", "subject": "creator", "role": "Admin"}, admin)
    owner = token_of("owner", "owner-password")
    for tenant in ["a", "b", "c"]:
        api("POST", f"/api/v1/{tenant}/flows",
            f"id: f\nnamespace: ns\ndescription: flow of {tenant}\ntasks:\n"
            f"  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: secret of {tenant}\n",
            owner, "application/x-yaml")
    foreign = api("POST", "/api/v1/c/executions/ns/f?wait=true", {}, owner)["id"]

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # A page may be replaced between finding an element and reading it
    # (a form post navigating away): such a round just tries again.
    wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException, JavascriptException))

    def sign_in(username, password=None):
        driver.get(base + "/ui")
        wait.until(lambda d: d.find_elements(By.ID, "username"))
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password or f"{username}-password")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "signed-in-as"))

    def dropdown():
        # Read in one script call: element by element, a page replaced
        # mid-read (the form post navigating) leaves a stale node behind.
        return driver.execute_script(
            "const s = document.getElementById('tenant-select');"
            "if (!s) { return null; }"
            "return Array.from(s.options).map(o => o.value).filter(v => v);")

    def text_of(element_id):
        # One script call too: live pages (logs, state) replace their nodes.
        text = driver.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.innerText.trim() : null;", element_id)
        if text is None:
            raise NoSuchElementException(f"no element #{element_id}")
        return text

    # Sign in: the dropdown holds exactly the user's two tenants.
    driver.get(base + "/ui")
    wait.until(lambda d: d.find_elements(By.ID, "username"))
    driver.save_screenshot(str(shots / "sign-in.png"))
    sign_in("user")
    check(driver.current_url == base + "/ui/a/flows", f"signed in, at {driver.current_url}")
    check(dropdown() == ["a", "b"], f"dropdown holds exactly a and b: {dropdown()}")
    cookies = {c["name"]: c for c in driver.get_cookies()}
    check(cookies["aerie_session"]["httpOnly"] and cookies["aerie_session"]["sameSite"] == "Strict",
          "session cookie is HttpOnly and SameSite=Strict")
    token = cookies["aerie_session"]["value"]
    check(token not in driver.page_source, "the token is not in the page")
    check(driver.execute_script("return document.cookie") == "", "scripts see no cookie")
    check(driver.execute_script("return window.localStorage.length") == 0, "nothing in localStorage")
    check("flow of a" in driver.page_source, "flows of a listed")
    driver.save_screenshot(str(shots / "flows.png"))

    # Switch tenant: the page kind is kept, the URL and the list change.
    Select(driver.find_element(By.ID, "tenant-select")).select_by_value("b")
    wait.until(lambda d: d.current_url == base + "/ui/b/flows")
    check("flow of b" in driver.page_source and "flow of a" not in driver.page_source,
          "switched to b: its flows, not a's")
    driver.get(base + "/ui/b/executions")
    Select(driver.find_element(By.ID, "tenant-select")).select_by_value("a")
    wait.until(lambda d: d.current_url == base + "/ui/a/executions")
    check(True, "switching from executions keeps executions")

    # With the keyboard, arrowing through the dropdown does not switch at
    # every step; Enter does.
    driver.get(base + "/ui/a/flows")
    select = driver.find_element(By.ID, "tenant-select")
    select.send_keys(Keys.ARROW_DOWN)
    time.sleep(0.5)
    check(driver.current_url == base + "/ui/a/flows", f"an arrow key alone does not switch: {driver.current_url}")
    driver.find_element(By.ID, "tenant-select").send_keys(Keys.ENTER)
    wait.until(lambda d: d.current_url == base + "/ui/b/flows")
    check(True, "Enter on the dropdown switches to the tenant chosen")

    # A flow with a YAML error: the problem at its line and column.
    driver.get(base + "/ui/a/flows/new")
    source = driver.find_element(By.ID, "source")
    source.clear()
    source.send_keys("id: broken\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n")
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "problems"))
    check("line 5, column 11" in text_of("problems"), f"problem located: {text_of('problems')}")
    driver.save_screenshot(str(shots / "flow-problem.png"))

    # A flow whose values are hostile, run while its logs arrive.
    flow = (
        'id: live\nnamespace: ns\ndescription: "<script>alert(1)</script>"\n'
        "tasks:\n"
        "  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: \"first <img src=x onerror=alert(2)>\"\n"
        "  - id: pause\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT3S\n"
        "  - id: second\n    type: io.kestra.plugin.core.log.Log\n    message: second line\n"
    )
    api("POST", "/api/v1/a/flows", flow, owner, "application/x-yaml")
    driver.get(base + "/ui/a/flows/ns/live")
    check(text_of("flow-description") == "<script>alert(1)</script>", "a <script> description renders as text")
    driver.save_screenshot(str(shots / "flow.png"))
    driver.find_element(By.ID, "execute").click()
    wait.until(lambda d: "/ui/a/executions/ns/live/" in d.current_url)
    execution_url = driver.current_url
    # A mark on this document: still there at the end means no reload.
    driver.execute_script("window.aerieNoReload = true")
    wait.until(lambda d: "first <img src=x onerror=alert(2)>" in text_of("logs"))
    check("second line" not in text_of("logs"), "first line arrived while the execution runs")
    check(driver.find_elements(By.ID, "kill"), "Kill is offered while it runs")
    # The reader opens the state history: it stays open across refreshes.
    driver.find_element(By.CSS_SELECTOR, "#live details summary").click()
    wait.until(lambda d: "second line" in text_of("logs"))
    wait.until(lambda d: text_of("execution-state") == "SUCCESS")
    check(driver.current_url == execution_url and driver.execute_script("return window.aerieNoReload === true"),
          "later lines and the end arrived without a reload")
    check(not driver.find_elements(By.ID, "kill") and driver.find_elements(By.ID, "restart"),
          "once it ended, Restart replaced Kill without a reload")
    check(driver.execute_script("return document.querySelector('#live details').open") is True,
          "the state history the reader opened is still open")
    bars = driver.find_elements(By.CSS_SELECTOR, "#task-runs svg.timeline rect")
    check(len(bars) == 3, f"each task run has its bar on the timeline: {len(bars)}")
    widths = [float(b.get_attribute("width")) for b in bars]
    check(widths[1] > widths[0] and widths[1] > widths[2], f"the 3 s sleep is the longest bar: {widths}")
    check(not driver.find_elements(By.CSS_SELECTOR, "#logs img"), "a log line's markup stays text")
    driver.save_screenshot(str(shots / "execution.png"))

    # Another tenant's execution, by URL: not found.
    for path in [f"/ui/c/executions/ns/f/{foreign}", f"/ui/a/executions/ns/f/{foreign}"]:
        driver.get(base + path)
        check("not found" in text_of("error-message") and "secret of c" not in driver.page_source,
              f"{path} is not found")

    # CSRF: the same form without its token is refused, nothing created.
    driver.get(base + "/ui/a/flows/new")
    driver.execute_script("document.querySelector('main form input[name=csrf]').remove()")
    source = driver.find_element(By.ID, "source")
    source.clear()
    source.send_keys("id: forged\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n")
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.ID, "error-message"))
    check("security token" in text_of("error-message"), "a form without its CSRF token is refused")
    try:
        api("GET", "/api/v1/a/flows/ns/forged", token=owner)
        check(False, "the forged flow does not exist")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "the forged flow does not exist")

    # At 390 px the pages still fit (wide tables scroll in their own box).
    driver.set_window_size(390, 844)
    execution_path = execution_url[len(base):]
    for path, shot in [("/ui/a/flows", "flows-390px.png"), (execution_path, "execution-390px.png"),
                       ("/ui/a/executions", None), ("/ui/a/flows/ns/live", None),
                       ("/ui/a/namespaces/ns", None), ("/ui/a/access", None), ("/ui/a/auditlogs", None)]:
        driver.get(base + path)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= 390, f"{path} fits 390 px (scroll width {width})")
        if shot:
            driver.save_screenshot(str(shots / shot))
    driver.set_window_size(1280, 900)
    for path, shot in [("/ui/a/executions", "executions.png"), ("/ui/a/triggers", "triggers.png"),
                       ("/ui/a/auditlogs", "auditlogs.png")]:
        driver.get(base + path)
        driver.save_screenshot(str(shots / shot))
    driver.get(base + execution_path)
    check(not driver.find_elements(By.CSS_SELECTOR, "form[action$='/kill']"), "no Kill on an ended execution")
    driver.save_screenshot(str(shots / "execution.png"))

    # Every form control of the main pages has a label.
    unlabeled = """return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.outerHTML)"""
    for path in ["/ui/a/flows", "/ui/a/flows/new", "/ui/a/flows/ns/live", "/ui/a/executions",
                 "/ui/a/namespaces/ns", "/ui/a/triggers", "/ui/a/auditlogs", "/ui/a/access"]:
        driver.get(base + path)
        missing = driver.execute_script(unlabeled)
        check(missing == [], f"{path}: every control labelled {missing}")
    driver.save_screenshot(str(shots / "access.png"))
    driver.get(base + "/ui/a/namespaces/ns")
    driver.save_screenshot(str(shots / "namespace.png"))

    # Administration: a created tenant joins the creator's dropdown. The
    # creator signs in with the keyboard alone.
    driver.find_element(By.CSS_SELECTOR, "form[action='/ui/auths/logout'] button").click()
    wait.until(lambda d: d.find_elements(By.ID, "username"))
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    check(active.get_attribute("id") == "username", "the first Tab reaches the username")
    active.send_keys("creator", Keys.TAB)
    driver.switch_to.active_element.send_keys("creator-password", Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.ID, "signed-in-as"))
    check(text_of("signed-in-as") == "creator", "signed in with the keyboard alone")
    check(dropdown() == ["default"], f"creator starts with the default tenant: {dropdown()}")
    driver.get(base + "/ui/tenants")
    driver.find_element(By.ID, "tenant-id").send_keys("fresh")
    driver.find_element(By.ID, "tenant-name").send_keys("Fresh tenant")
    driver.find_element(By.ID, "create-tenant").click()
    wait.until(lambda d: "fresh" in (dropdown() or []))
    check(dropdown() == ["default", "fresh"], f"created tenant in the dropdown at once: {dropdown()}")
    driver.save_screenshot(str(shots / "tenants.png"))
    Select(driver.find_element(By.ID, "tenant-select")).select_by_value("fresh")
    wait.until(lambda d: d.current_url == base + "/ui/fresh/flows")
    check(True, "the creator uses the new tenant")

    # The super admin, bound nowhere, creates a tenant: the Admin field
    # starts with their name, so Create -> Save makes them its Admin.
    driver.find_element(By.CSS_SELECTOR, "form[action='/ui/auths/logout'] button").click()
    wait.until(lambda d: d.find_elements(By.ID, "username"))
    sign_in(*ADMIN)
    driver.get(base + "/ui/tenants")
    check(dropdown() == [], f"the super admin holds no binding yet: {dropdown()}")
    check(driver.find_element(By.ID, "tenant-admin").get_attribute("value") == ADMIN[0],
          "the Admin field starts with the creator")
    driver.find_element(By.ID, "tenant-id").send_keys("made")
    driver.find_element(By.ID, "tenant-name").send_keys("Made by the super admin")
    driver.find_element(By.ID, "create-tenant").click()
    wait.until(lambda d: "made" in (dropdown() or []))
    check(dropdown() == ["made"], f"the super admin's new tenant is in their dropdown: {dropdown()}")
    driver.find_element(By.LINK_TEXT, "made").click()
    wait.until(lambda d: d.current_url == base + "/ui/made/flows")
    driver.get(base + "/ui/made/access")
    users = text_of("users")
    check("admin" in users and "Admin" in users, f"the creator is listed as the tenant's Admin: {users}")
    print(f"ui-browser: all checks passed; screenshots in {shots}")
except (AssertionError, TimeoutException) as e:
    print(f"FAILED: {e!r}", file=sys.stderr)
    if driver is not None:
        driver.save_screenshot(str(shots / "failure.png"))
        print(f"at {driver.current_url}:\n{driver.page_source[:3000]}", file=sys.stderr)
    sys.exit(1)
finally:
    if driver is not None:
        driver.quit()
    server.terminate()
    server.wait(timeout=30)

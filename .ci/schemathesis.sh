#!/usr/bin/env bash
# API fuzzing of the REST gateway against its own served OpenAPI document,
# with a tenant Admin's token (not a super admin), on both tenant URL forms:
#
#   1. document: the served /api/v1/openapi.json is valid OpenAPI 3.1 and
#      declares every `{name}` of its path templates;
#   2. tenant form: schemathesis on /api/v1/{tenant}/... with {tenant} fixed
#      to the test tenant;
#   3. default form: schemathesis on every other operation (/api/v1/... of the
#      default tenant and the instance-level routes);
#   4. malformed bodies: every operation that takes a body answers invalid
#      JSON/YAML, an unknown field, a missing required field and a wrong type
#      with 400 or 422, and for a field error a message naming that field.
#
# Schemathesis checks: not_a_server_error, status_code_conformance,
# content_type_conformance, response_schema_conformance,
# response_headers_conformance, negative_data_rejection.
# Excluded (they would end the run): DELETE /api/v1/tenants/{id} and
# DELETE /api/v1/users/{id}; the test user's own bindings are protected by a
# hook (.ci/schemathesis-hooks.py).
#
# usage: bash .ci/schemathesis.sh [AERIE_BIN] [VENV_DIR]
#   AERIE_BIN defaults to target/debug/aerie (copied before it runs, so a
#   rebuild does not disturb the run); VENV_DIR defaults to .ci/.venv, where
#   the pinned schemathesis is installed when missing.
# env: AERIE_ST_MAX_EXAMPLES (50 per operation: about 2.5 minutes per URL form on 2 cores), AERIE_ST_SEED (fixed), AERIE_ST_OUT (where
#   reports and logs are kept; default a new /tmp/aerie-schemathesis.* dir),
#   AERIE_ST_EXTRA_ARGS (more `st run` options, word-split, e.g.
#   "--exclude-checks status_code_conformance" to look past that check).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
aerie=${1:-target/debug/aerie}
venv=${2:-$here/.venv}
ST_VERSION=4.32.5
OSV_VERSION=0.9.0
max_examples=${AERIE_ST_MAX_EXAMPLES:-50}
seed=${AERIE_ST_SEED:-20261130}
out=${AERIE_ST_OUT:-$(mktemp -d /tmp/aerie-schemathesis.XXXXXX)}
mkdir -p "$out"

[ -x "$aerie" ] || { echo "schemathesis.sh: no aerie binary at $aerie" >&2; exit 2; }

if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "version $ST_VERSION" \
  || ! "$venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null \
  || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null)" != "$OSV_VERSION" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$ST_VERSION" "openapi-spec-validator==$OSV_VERSION" || exit 2
fi
py=$venv/bin/python

work=$(mktemp -d)
pid=""
# Only our server, by its pid.
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

cp "$aerie" "$work/aerie"
cat >"$work/aerie.yml" <<YAML
aerie:
  tenants:
    enabled: true
    default-tenant: true
  security:
    super-admin:
      username: admin
      password: admin-password
    token-ttl: 7200
  server:
    http-port: 0
    grpc-port: 0
  data-dir: $work/data
YAML

"$work/aerie" -c "$work/aerie.yml" server standalone >"$out/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  grep -q "aerie standalone ready" "$out/server.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
ready=$(grep "aerie standalone ready" "$out/server.log") || { cat "$out/server.log" >&2; exit 2; }
http=$(sed -E 's/.*http=([0-9.:]+).*/\1/' <<<"$ready")
base="http://$http"
echo "== server ready at $base (logs and reports in $out)"

# ---------------------------------------------------------------- setup
# The super admin creates tenant `st` and user `stadmin`, binds it Admin in
# `st` and in the default tenant, and makes the fixtures the body probe needs.
cat >"$work/setup.py" <<'PY'
import json, sys, urllib.request, urllib.error

base = sys.argv[1]

def call(method, path, body=None, token=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", ctype)
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read().decode()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"setup: {method} {path} -> {e.code} {e.read().decode()}")
    return json.loads(text) if text else None

login = lambda u, p: call("POST", "/api/v1/auths/token", {"username": u, "password": p})["access_token"]
sa = login("admin", "admin-password")
call("POST", "/api/v1/tenants", {"id": "st", "name": "ST", "adminUsername": "admin"}, sa)
call("POST", "/api/v1/bindings", {"type": "USER", "subject": "admin", "role": "Admin"}, sa)
user = call("POST", "/api/v1/users", {"username": "stadmin", "password": "stadmin-password-1"}, sa)
protected = []
for prefix in ("/api/v1/st", "/api/v1"):
    b = call("POST", prefix + "/bindings", {"type": "USER", "subject": "stadmin", "role": "Admin"}, sa)
    protected.append(b["id"])
tok = login("stadmin", "stadmin-password-1")
me = call("GET", "/api/v1/me", token=tok)
assert not me["superAdmin"], me
# fixtures for the malformed-body probe, in both tenants
flow = "id: probe\nnamespace: probe\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
for prefix in ("/api/v1/st", "/api/v1"):
    call("POST", prefix + "/groups", {"name": "probe-group"}, tok)
    call("POST", prefix + "/service-accounts", {"name": "probe-sa"}, tok)
    call("POST", prefix + "/flows", flow, tok, "application/x-yaml")
print(f"AERIE_ST_TOKEN={tok}")
print(f"AERIE_ST_ADMIN_TOKEN={sa}")
print(f"AERIE_ST_USER_ID={user['id']}")
print(f"AERIE_ST_PROTECTED_BINDINGS={','.join(protected)}")
PY
setup=$("$py" "$work/setup.py" "$base") || { cat "$out/server.log" >&2; exit 2; }
while IFS='=' read -r k v; do export "$k=$v"; done <<<"$setup"

failed=()
passed=()

# ---------------------------------------------------------------- 1. document
echo "== 1. served OpenAPI document"
curl -fsS "$base/api/v1/openapi.json" -o "$out/openapi.json" || exit 2
if "$py" - "$out/openapi.json" <<'PY'
import collections, json, re, sys
from openapi_spec_validator import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
problems = collections.Counter()
examples = {}
for err in OpenAPIV31SpecValidator(doc).iter_errors():
    msg = str(err.message).splitlines()[0]
    key = re.sub(r"'[^']*'", "'…'", msg)
    problems[key] += 1
    examples.setdefault(key, msg)
for path, item in doc.get("paths", {}).items():
    names = set(re.findall(r"\{([^}/]+)\}", path))
    for method, op in item.items():
        if method == "parameters":
            continue
        declared = {p.get("name") for p in item.get("parameters", []) + op.get("parameters", []) if p.get("in") == "path"}
        for missing in sorted(names - declared):
            key = f"path parameter '{missing}' used in a template but not declared"
            problems[key] += 1
            examples.setdefault(key, f"{method.upper()} {path}")
if not doc.get("components", {}).get("securitySchemes"):
    problems["no securitySchemes: the bearer token every route needs is not documented"] += 1
for key, n in problems.items():
    print(f"  {n:4d} x {key}\n         e.g. {examples.get(key, '')}")
sys.exit(1 if problems else 0)
PY
then passed+=("document"); else failed+=("document"); fi

# ---------------------------------------------------------------- schemathesis
cat >"$work/schemathesis.toml" <<'TOML'
headers = { Authorization = "Bearer ${AERIE_ST_TOKEN}" }

[parameters]
"path.tenant" = "st"
TOML
export SCHEMATHESIS_HOOKS="$here/schemathesis-hooks.py"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection
st_run() { # name, then filter options
  local name=$1; shift
  echo "== schemathesis: $name"
  "$venv/bin/st" --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --workers 1 --max-examples "$max_examples" --seed "$seed" --request-timeout 10 \
    --checks "$checks" --no-color --suppress-health-check all \
    --continue-on-failure --report junit,ndjson --report-dir "$out/$name" \
    "$@" ${AERIE_ST_EXTRA_ARGS:-} 2>&1 | tee "$out/$name.txt" | tail -n 40
  return "${PIPESTATUS[0]}"
}
echo "== 2. tenant URL form"
if st_run tenant-form --include-path-regex '^/api/v1/\{tenant\}/'; then
  passed+=("tenant-form"); else failed+=("tenant-form"); fi
echo "== 3. default-tenant URL form and instance routes"
# Logout ends the very token this run uses; the suite tests it instead.
if st_run default-form --exclude-path-regex '^/api/v1/\{tenant\}/' \
  --exclude-name 'DELETE /api/v1/tenants/{id}' --exclude-name 'DELETE /api/v1/users/{id}' \
  --exclude-name 'POST /api/v1/auths/logout'; then
  passed+=("default-form"); else failed+=("default-form"); fi

# ---------------------------------------------------------------- 4. bodies
echo "== 4. malformed bodies"
cat >"$work/probe.py" <<'PY'
import json, os, re, sys, urllib.request, urllib.error

base, doc_path = sys.argv[1], sys.argv[2]
doc = json.load(open(doc_path))
schemas = doc.get("components", {}).get("schemas", {})
tok, admin_tok = os.environ["AERIE_ST_TOKEN"], os.environ["AERIE_ST_ADMIN_TOKEN"]
fixtures = {"tenant": "st", "namespace": "probe", "flow_id": "probe", "group": "probe-group",
            "name": "probe-sa", "key": "probe-key"}
valid = {  # a valid body per schema; probes change one thing at a time
    "TokenRequest": {"username": "stadmin", "password": "stadmin-password-1"},
    "CreateBinding": {"type": "USER", "subject": "stadmin", "role": "Admin"},
    "CreateGroup": {"name": "probe-group-2"},
    "AddMember": {"username": "stadmin"},
    "SecretValue": {"value": "v"},
    "NamespaceSettings": {"allowedNamespaces": []},
    "CreateRole": {"name": "probe-role", "permissions": ["FLOW:READ"]},
    "CreateServiceAccount": {"name": "probe-sa-2"},
    "CreateApiToken": {"name": "t"},
    "CreateTenant": {"id": "probe-tenant", "name": "Probe"},
    "UpdateTenant": {"name": "ST"},
    "CreateUser": {"username": "probe-user", "password": "probe-password-1"},
    "UpdateUser": {},
}
flow_body = "id: probe\nnamespace: probe\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"

def send(method, url, body, ctype, token):
    req = urllib.request.Request(url, data=body.encode(), method=method)
    req.add_header("content-type", ctype)
    req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")

def wrong(s):
    t = s.get("type")
    t = [x for x in t if x != "null"][0] if isinstance(t, list) else t
    return {"string": 123, "boolean": "yes", "integer": "x", "number": "x", "array": "x", "object": "x"}.get(t, [])

bad = []
count = 0
for path, item in sorted(doc["paths"].items()):
    for method, op in item.items():
        rb = op.get("requestBody") if isinstance(op, dict) else None
        if not rb:
            continue
        def fill(m):
            n = m.group(1)
            if n == "id" and path.startswith("/api/v1/users/"):
                return os.environ["AERIE_ST_USER_ID"]
            if n == "id" and "/tenants/" in path:
                return "st"
            if n == "id" and "/flows/" in path:
                return "probe"
            return fixtures.get(n, "probe")
        url = base + re.sub(r"\{([^}/]+)\}", fill, path)
        for ctype, media in rb.get("content", {}).items():
            schema = media.get("schema", {})
            sname = schema.get("$ref", "").split("/")[-1]
            schema = schemas.get(sname, schema)
            cases = []  # (what, body, field that must be named or None)
            if ctype == "application/json":
                cases.append(("invalid JSON", '{"', None))
                if schema.get("type") == "object" and sname in valid:
                    v = valid[sname]
                    cases.append(("unknown field", json.dumps({**v, "unknownField": 1}), "unknownField"))
                    for req in schema.get("required", []):
                        cases.append((f"missing `{req}`", json.dumps({k: x for k, x in v.items() if k != req}), req))
                    for prop, ps in schema.get("properties", {}).items():
                        cases.append((f"wrong type of `{prop}`", json.dumps({**v, prop: wrong(ps)}), prop))
                elif not schema:
                    cases.append(("not an object", "[1]", None))
            elif ctype in ("application/x-yaml", "application/yaml"):
                cases.append(("invalid YAML", "id: [\n", None))
                cases.append(("unknown field", flow_body + "unknownField: 1\n", "unknownField"))
                cases.append(("missing `id`", flow_body.replace("id: probe\n", "", 1), "id"))
                cases.append(("wrong type of `id`", flow_body.replace("id: probe\n", "id: [1]\n", 1), "id"))
                cases.append(("wrong type of `tasks`", flow_body.split("tasks:")[0] + "tasks: 12\n", "tasks"))
            else:
                continue
            for what, body, field in cases:
                count += 1
                status, text = send(method.upper(), url, body, ctype, tok)
                who = "tenant Admin"
                if status == 403:
                    status, text = send(method.upper(), url, body, ctype, admin_tok)
                    who = "super admin"
                try:
                    message = json.dumps(json.loads(text))
                except ValueError:
                    message = text
                ok_status = status in (400, 422) or (path.endswith("/flows/validate") and status == 200)
                ok_field = field is None or field in message
                if not (ok_status and ok_field):
                    why = [] if ok_status else [f"status {status}"]
                    if ok_status and not ok_field:
                        why.append(f"message does not name `{field}`")
                    bad.append((f"{method.upper()} {path}", what, why, who, body, message[:300]))
for op, what, why, who, body, message in bad:
    print(f"  FAIL {op} [{what}] ({who}): {'; '.join(why)}\n       body: {body!r}\n       answer: {message}")
print(f"  {count - len(bad)} of {count} malformed-body probes answered 400/422 naming the field")
sys.exit(1 if bad else 0)
PY
if "$py" "$work/probe.py" "$base" "$out/openapi.json" | tee "$out/probe.txt"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  passed+=("bodies"); else failed+=("bodies"); fi

echo "== 5. server log: no panic"
if grep -q "panicked" "$out/server.log"; then
  grep -A1 "panicked" "$out/server.log" | grep -v '^--' | sed -E 's/\(([0-9]+)\)/(N)/' | sort | uniq -c | sort -rn | head -20
  failed+=("panics")
else passed+=("panics"); fi
echo "== failed: ${failed[*]:-none}"
echo "schemathesis: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]

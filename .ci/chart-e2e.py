"""Multi-process mode, configured by the chart: renders helm/aerie, starts
the five Deployments' containers as local processes against PostgreSQL
(per service a schema, the role owning it, which migrates, and a runtime
role with data access only, as the chart expects), runs the end-to-end
walk-through (.ci/e2e.sh) through them, runs the Python and Go gRPC
examples (examples/python, examples/go) against the gateway's public gRPC
port, and checks that the owner roles, not the runtime roles, own the
tables.

What a process gets is what its pod would get: the ConfigMap's aerie.yml,
the container's args, and its environment with Secret references resolved
from the rendered Secrets and $(VAR) references expanded as Kubernetes
does. Only addresses change, because loopback has no cluster DNS: the
listen host and ports, the service endpoints and data-dir.

usage: chart-e2e.py <aerie binary> <helm binary>
"""
import base64
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

aerie, helm = sys.argv[1], sys.argv[2]
root = pathlib.Path(__file__).resolve().parent.parent
SERVICES = ["tenant", "auth", "flow", "execution"]
DATABASE = "aerie_chart_e2e"
ADMIN_PASSWORD = "chart-e2e-admin-password"


def psql(sql):
    subprocess.run(["su", "postgres", "-c", "psql -q -v ON_ERROR_STOP=1"], input=sql, text=True, check=True)


def query(sql):
    """Rows of `sql` in the test database, as tuples of strings."""
    out = subprocess.run(["su", "postgres", "-c", f"psql -d {DATABASE} -At -F '|' -v ON_ERROR_STOP=1"],
                         input=sql, text=True, capture_output=True, check=True).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def prepare_database():
    """One database; per service an owner role owning the schema (it runs the
    migrations) and a runtime role with LOGIN only (no superuser, no
    BYPASSRLS and no ownership, so RLS applies and cannot be turned off)."""
    psql(f"DROP DATABASE IF EXISTS {DATABASE};\n"
         + "".join(f"DROP ROLE IF EXISTS aerie_{s};\nDROP ROLE IF EXISTS aerie_{s}_owner;\n" for s in SERVICES)
         + "".join(f"CREATE ROLE aerie_{s}_owner LOGIN PASSWORD '{s}-e2e-owner-password' NOSUPERUSER;\n"
                   f"CREATE ROLE aerie_{s} LOGIN PASSWORD '{s}-e2e-password' NOSUPERUSER NOBYPASSRLS;\n"
                   for s in SERVICES)
         + f"CREATE DATABASE {DATABASE};\n")
    psql(f"\\connect {DATABASE}\n"
         + "".join(f"CREATE SCHEMA aerie_{s} AUTHORIZATION aerie_{s}_owner;\n" for s in SERVICES))


def check_ownership():
    """The owner roles own the schemas and every table; the runtime roles own nothing."""
    schemas = ", ".join(f"'aerie_{s}'" for s in SERVICES)
    tables = query(f"SELECT schemaname, tablename, tableowner FROM pg_tables WHERE schemaname IN ({schemas})")
    for s in SERVICES:
        mine = [t for t in tables if t[0] == f"aerie_{s}"]
        assert mine, f"schema aerie_{s} has no tables"
        wrong = [t for t in mine if t[2] != f"aerie_{s}_owner"]
        assert not wrong, f"tables of aerie_{s} not owned by aerie_{s}_owner: {wrong}"
    owners = dict(query(f"SELECT nspname, nspowner::regrole::text FROM pg_namespace WHERE nspname IN ({schemas})"))
    assert owners == {f"aerie_{s}": f"aerie_{s}_owner" for s in SERVICES}, owners
    runtime = ", ".join(f"'aerie_{s}'" for s in SERVICES)
    owned = query(f"SELECT c.relname, r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                  f"WHERE r.rolname IN ({runtime})")
    assert not owned, f"runtime roles own relations: {owned}"
    # So a runtime role cannot turn row-level security off.
    protected = query(f"SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ({schemas}) AND rowsecurity")
    assert protected, "no table has row-level security"
    for schema, table in protected:
        s = schema.removeprefix("aerie_")
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-U", schema, "-d", DATABASE, "-v", "ON_ERROR_STOP=1",
                            "-c", f"ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY"],
                           env={**os.environ, "PGPASSWORD": f"{s}-e2e-password"}, capture_output=True, text=True)
        assert r.returncode != 0 and "must be owner" in r.stderr, f"{schema} altered {table}: {r.stderr}"
    print(f"chart-e2e: {len(tables)} tables, all owned by the owner roles; the runtime roles cannot alter them")


def resolve(value, env):
    """$(VAR) expanded as Kubernetes does: from the variables defined before
    it; an undefined reference stays as written and $$ escapes a $."""
    return re.sub(r"\$\$|\$\((\w+)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


def render():
    sets = [f"postgresql.host=127.0.0.1", f"postgresql.database={DATABASE}", "postgresql.sslmode=disable",
            f"security.superAdmin.password={ADMIN_PASSWORD}"]
    sets += [f"postgresql.{s}.password={s}-e2e-password" for s in SERVICES]
    sets += [f"postgresql.{s}.migrationPassword={s}-e2e-owner-password" for s in SERVICES]
    out = subprocess.run([helm, "template", "e2e", str(root / "helm/aerie"), "--kube-version", "1.31.0",
                          "--set", ",".join(sets)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_python_example(port):
    """examples/python against the gateway's public gRPC endpoint, stubs
    generated from proto/ as its README says; and that endpoint's
    reflection lists no internal service."""
    example = root / "examples/python"
    gen = pathlib.Path(tempfile.mkdtemp())
    # Public packages only, as the README has it: a client needs no internal one.
    protos = [str(p.relative_to(root / "proto")) for p in (root / "proto").rglob("*.proto")
              if "internal" not in p.parts]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(root / "proto"),
                    f"--python_out={gen}", f"--grpc_python_out={gen}", *protos], check=True)
    (example / "gen").unlink(missing_ok=True)
    (example / "gen").symlink_to(gen)
    try:
        subprocess.run([sys.executable, str(example / "client.py"), f"127.0.0.1:{port}", "admin",
                        ADMIN_PASSWORD], check=True)
    finally:
        (example / "gen").unlink()
    listed = subprocess.run(["grpcurl", "-plaintext", f"127.0.0.1:{port}", "list"], capture_output=True,
                            text=True, check=True).stdout.split()
    assert "aerie.flow.v1.FlowService" in listed and not [s for s in listed if "Internal" in s], listed
    print("chart-e2e: the Python example ran through the gateway's public gRPC endpoint")


def run_go_example(port):
    """examples/go against the same endpoint, stubs generated by buf as its
    README says."""
    example = root / "examples/go"
    subprocess.run(["buf", "generate"], cwd=example, check=True)
    subprocess.run(["go", "run", ".", f"127.0.0.1:{port}", "admin", ADMIN_PASSWORD], cwd=example, check=True)
    print("chart-e2e: the Go example ran through the gateway's public gRPC endpoint")


def main():
    prepare_database()
    docs = render()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["aerie.yml"]
    secrets = {d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()}
               for d in docs if d["kind"] == "Secret"}
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs if d["kind"] == "Deployment"}
    assert sorted(deployments) == sorted(SERVICES + ["gateway"]), deployments.keys()

    ports = {c: free_port() for c in deployments}
    public_grpc = free_port()
    metrics = {c: free_port() for c in deployments}
    work = pathlib.Path(tempfile.mkdtemp())
    processes = []
    try:
        for component in SERVICES + ["gateway"]:
            container = deployments[component]["spec"]["template"]["spec"]["containers"][0]
            env = {}
            for var in container.get("env", []):
                if "valueFrom" in var:
                    ref = var["valueFrom"]["secretKeyRef"]
                    env[var["name"]] = secrets[ref["name"]][ref["key"]]
                else:
                    env[var["name"]] = resolve(var["value"], env)
            if component in SERVICES:
                name = component.upper()
                for key, role, password in [("URL", f"aerie_{component}", f"{component}-e2e-password"),
                                            ("MIGRATION_URL", f"aerie_{component}_owner",
                                             f"{component}-e2e-owner-password")]:
                    url = env[f"AERIE_DATABASE_{name}_{key}"]
                    assert url.startswith(f"postgres://{role}:{password}@127.0.0.1:5432/{DATABASE}?"), url
            parsed = yaml.safe_load(config)
            server = parsed["aerie"]["server"]
            server["host"] = "127.0.0.1"
            server["http-port" if component == "gateway" else "grpc-port"] = ports[component]
            if component == "gateway":
                server["grpc-port"] = public_grpc
            server["metrics-port"] = metrics[component]
            parsed["aerie"]["endpoints"] = {s: f"http://127.0.0.1:{ports[s]}" for s in SERVICES}
            parsed["aerie"]["data-dir"] = str(work / component)
            path = work / f"{component}.yml"
            path.write_text(yaml.safe_dump(parsed))
            args = [str(path) if a == "/etc/aerie/aerie.yml" else a for a in container["args"]]
            log = open(work / f"{component}.log", "w")
            processes.append((component, subprocess.Popen([aerie] + args, env={**os.environ, **env},
                                                          stdout=log, stderr=subprocess.STDOUT)))
        health = f"http://127.0.0.1:{ports['gateway']}/health"
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(health) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            for component, p in processes:
                if p.poll() is not None:
                    sys.exit(f"{component} exited: {(work / f'{component}.log').read_text()}")
            if time.time() > deadline:
                sys.exit("the five processes never became healthy")
            time.sleep(0.3)
        print("chart-e2e: five processes healthy, configured from the chart")
        g = lambda c: f"127.0.0.1:{ports[c]}"
        subprocess.run(["bash", str(root / ".ci/e2e.sh"), g("gateway"), g("tenant"), g("auth"), g("flow"),
                        g("execution"), ADMIN_PASSWORD], check=True)
        run_python_example(public_grpc)
        run_go_example(public_grpc)
        for component in deployments:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics[component]}/metrics") as r:
                text = r.read().decode()
            wanted = "aerie_http_requests_total" if component == "gateway" else "aerie_grpc_server_requests_total"
            assert wanted in text, f"{component} metrics lack {wanted}"
        print("chart-e2e: every process serves /metrics")
        check_ownership()
    except BaseException:
        for component, _ in processes:
            print(f"--- {component} log ---\n" + (work / f"{component}.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for _, p in processes:
            p.send_signal(signal.SIGTERM)
        codes = {c: p.wait(timeout=30) for c, p in processes}
    bad = {c: code for c, code in codes.items() if code != 0}
    assert not bad, f"processes did not stop cleanly: {bad}"
    print("chart-e2e: 1 passed, 0 failed")


main()

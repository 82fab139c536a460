"""Multi-process mode, configured by the chart: renders helm/aerie, starts
the five Deployments' containers as local processes against PostgreSQL
(one role and schema per service, as the chart expects), and runs the
end-to-end walk-through (.ci/e2e.sh) through them.

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


def prepare_database():
    """One database; per service a role (no superuser, so RLS applies) and a schema it owns."""
    psql(f"DROP DATABASE IF EXISTS {DATABASE};\n"
         + "".join(f"DROP ROLE IF EXISTS aerie_{s};\n" for s in SERVICES)
         + "".join(f"CREATE ROLE aerie_{s} LOGIN PASSWORD '{s}-e2e-password' NOSUPERUSER NOBYPASSRLS;\n" for s in SERVICES)
         + f"CREATE DATABASE {DATABASE};\n")
    psql(f"\\connect {DATABASE}\n"
         + "".join(f"CREATE SCHEMA aerie_{s} AUTHORIZATION aerie_{s};\n" for s in SERVICES))


def render():
    sets = [f"postgresql.host=127.0.0.1", f"postgresql.database={DATABASE}", "postgresql.sslmode=disable",
            f"security.superAdmin.password={ADMIN_PASSWORD}"]
    sets += [f"postgresql.{s}.password={s}-e2e-password" for s in SERVICES]
    out = subprocess.run([helm, "template", "e2e", str(root / "helm/aerie"), "--kube-version", "1.31.0",
                          "--set", ",".join(sets)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    prepare_database()
    docs = render()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["aerie.yml"]
    secrets = {d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()}
               for d in docs if d["kind"] == "Secret"}
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs if d["kind"] == "Deployment"}
    assert sorted(deployments) == sorted(SERVICES + ["gateway"]), deployments.keys()

    ports = {c: free_port() for c in deployments}
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
                    env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], var["value"])
            parsed = yaml.safe_load(config)
            server = parsed["aerie"]["server"]
            server["host"] = "127.0.0.1"
            server["http-port" if component == "gateway" else "grpc-port"] = ports[component]
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
        for component in deployments:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics[component]}/metrics") as r:
                text = r.read().decode()
            wanted = "aerie_http_requests_total" if component == "gateway" else "aerie_grpc_server_requests_total"
            assert wanted in text, f"{component} metrics lack {wanted}"
        print("chart-e2e: every process serves /metrics")
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

"""Writes standalone Kubernetes JSON schemas for kubeconform, offline.

The schemas come from the kubernetes-validate package (PyPI); its files
reference a shared `/api/_definitions.json` that kubeconform cannot resolve,
so each kind's schema is written with the definitions inlined.

usage: k8s-schemas.py <kubernetes version, e.g. 1.31.0> <output dir> <file>...
(files as kubeconform names them: deployment-apps-v1.json, ...)
"""
import json
import pathlib
import sys

import kubernetes_validate

version, out, wanted = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
source = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
PREFIX = "/api/_definitions.json#/$defs/"


def local(node):
    """Points every reference at the inlined definitions."""
    if isinstance(node, dict):
        return {k: (("#/$defs/" + v[len(PREFIX):]) if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX) else local(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [local(v) for v in node]
    return node


inlined = local(definitions)
target = out / f"v{version}-standalone-strict"
target.mkdir(parents=True, exist_ok=True)
count = 0
for name in wanted:
    path = source / name
    schema = local(json.loads(path.read_text()))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$defs"] = inlined
    (target / path.name).write_text(json.dumps(schema))
    count += 1
print(f"{count} schemas in {target}")

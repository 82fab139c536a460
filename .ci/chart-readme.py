"""Keeps the values table of helm/aerie/README.md in step with values.yaml.

Each leaf of values.yaml becomes a row: key, default, and the `# -- ...`
comment written above it (or above its nearest documented parent).

usage: chart-readme.py [--check]   (--check fails when the README is stale)
"""
import json
import pathlib
import re
import sys

import yaml

chart = pathlib.Path(__file__).resolve().parent.parent / "helm/aerie"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"


def comments(text):
    """`# -- description` lines, by the dotted key they precede."""
    found, stack, pending = {}, [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending.append(stripped[4:].strip())
            continue
        if stripped.startswith("#") or not stripped:
            continue
        m = re.match(r"^(\s*)([A-Za-z0-9_]+):", line)
        if not m:
            pending = []
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        if pending:
            found[".".join(stack)] = " ".join(pending)
        pending = []
    return found


def leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    else:
        yield prefix, node


def table():
    text = (chart / "values.yaml").read_text()
    docs = comments(text)
    rows = ["| key | default | description |", "|---|---|---|"]
    for key, value in leaves(yaml.safe_load(text)):
        parts = key.split(".")
        description = next((docs[".".join(parts[:i])] for i in range(len(parts), 0, -1)
                            if ".".join(parts[:i]) in docs), "")
        rows.append(f"| `{key}` | `{json.dumps(value)}` | {description} |")
    return "\n".join(rows)


readme = chart / "README.md"
current = readme.read_text()
start, end = current.index(BEGIN) + len(BEGIN), current.index(END)
wanted = current[:start] + "\n" + table() + "\n" + current[end:]
if "--check" in sys.argv:
    if wanted != current:
        sys.exit("helm/aerie/README.md is out of step with values.yaml: run python3 .ci/chart-readme.py")
else:
    readme.write_text(wanted)

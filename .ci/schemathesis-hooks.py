"""Schemathesis hooks for .ci/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

- The served document must declare every `{name}` of a path template as a path
  parameter. When `{tenant}` is not declared, schemathesis refuses the whole
  operation ("Path parameter 'tenant' is not defined") and tests nothing of it.
  .ci/schemathesis.sh checks the document on its own first and fails on that;
  so that the tenant URL form is still exercised in the same run, this hook
  declares a missing `tenant` (the run fixes its value to the test tenant with
  `[parameters] "path.tenant"` in the generated schemathesis.toml).
- The test principal must survive the run: a stateful scenario may feed the id
  of its own binding (listed by GET .../bindings) to DELETE .../bindings/{id}.
  Ids listed in AERIE_ST_PROTECTED_BINDINGS (comma-separated) are swapped for
  an id that does not exist before the call is sent.
"""

import os
import re
import sys

import schemathesis

_TEMPLATE = re.compile(r"\{([^}/]+)\}")
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _declared_path_params(path_item, operation):
    names = set()
    for source in (path_item.get("parameters", []), operation.get("parameters", [])):
        for param in source:
            if isinstance(param, dict) and param.get("in") == "path":
                names.add(param.get("name"))
    return names


@schemathesis.hook
def before_load_schema(context, raw_schema):
    if os.environ.get("AERIE_ST_DECLARE_TENANT", "1") != "1":
        return
    patched = 0
    for path, item in (raw_schema.get("paths") or {}).items():
        if "tenant" not in _TEMPLATE.findall(path):
            continue
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            if "tenant" in _declared_path_params(item, operation):
                continue
            operation.setdefault("parameters", []).insert(
                0,
                {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}},
            )
            patched += 1
    if patched:
        print(
            f"schemathesis-hooks: declared the missing `tenant` path parameter on {patched} operations",
            file=sys.stderr,
        )


_PROTECTED = {x for x in os.environ.get("AERIE_ST_PROTECTED_BINDINGS", "").split(",") if x}
_MISSING_ID = "00000000-0000-0000-0000-000000000000"


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _PROTECTED or case.method.upper() != "DELETE":
        return
    if not case.path.endswith("/bindings/{id}"):
        return
    params = case.path_parameters or {}
    if str(params.get("id")) in _PROTECTED:
        params["id"] = _MISSING_ID

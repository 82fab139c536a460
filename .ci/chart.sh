#!/usr/bin/env bash
# The chart: helm lint --strict, helm template for each values set in
# helm/aerie/ci, every rendered object validated by kubeconform against the
# Kubernetes schemas (offline, from the kubernetes-validate package),
# generated keys of 32 random bytes, and the chart README in step with
# values.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=helm/aerie
kube=1.31.0
python=${PYTHON:-.ci/.venv/bin/python}
schemas=$(mktemp -d)
trap 'rm -rf "$schemas"' EXIT

"$python" .ci/k8s-schemas.py "$kube" "$schemas" \
  configmap-v1.json secret-v1.json service-v1.json serviceaccount-v1.json persistentvolumeclaim-v1.json \
  deployment-apps-v1.json poddisruptionbudget-policy-v1.json horizontalpodautoscaler-autoscaling-v2.json \
  networkpolicy-networking-v1.json ingress-networking-v1.json

for values in "$chart"/ci/*-values.yaml; do
  echo "-- $(basename "$values")"
  helm lint --strict "$chart" -f "$values" --kube-version "$kube"
  helm template aerie "$chart" -f "$values" --kube-version "$kube" \
    | kubeconform -strict -summary -kubernetes-version "$kube" \
      -schema-location "$schemas/{{.NormalizedKubernetesVersion}}-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json" -
done

# values.schema.json refuses unknown keys.
if helm template aerie "$chart" -f "$chart/ci/default-values.yaml" --set replicaCount=3 >/dev/null 2>&1; then
  echo "chart: an unknown value was accepted" >&2
  exit 1
fi
# Generated keys are base64 of 32 random bytes (any byte, not only ASCII):
# the Secret's data is base64 of that base64.
for _ in 1 2 3; do
  helm template aerie "$chart" -f "$chart/ci/default-values.yaml" --kube-version "$kube" \
    --show-only templates/secrets.yaml
  echo "---"
done | "$python" -c '
import base64, sys, yaml
keys = [base64.b64decode(base64.b64decode(d["data"][k], validate=True), validate=True)
        for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "Secret" and d["metadata"]["name"].endswith("-security")
        for k in ("secrets-master-key", "jwt-signing-key")]
assert len(keys) == 6, f"chart: expected 6 generated keys, found {len(keys)}"
assert all(len(k) == 32 for k in keys), f"chart: generated keys are not 32 bytes: {[len(k) for k in keys]}"
assert any(b >= 0x80 for k in keys for b in k), "chart: generated keys hold only ASCII bytes"
print("-- generated keys: 32 random bytes each")
'
"$python" .ci/chart-readme.py --check
echo "chart: passed"

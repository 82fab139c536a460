#!/usr/bin/env bash
# The chart: helm lint --strict, helm template for each values set in
# helm/aerie/ci, every rendered object validated by kubeconform against the
# Kubernetes schemas (offline, from the kubernetes-validate package), and
# the chart README in step with values.yaml.
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
"$python" .ci/chart-readme.py --check
echo "chart: passed"

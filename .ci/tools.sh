#!/usr/bin/env bash
# Installs every tool CI's stages need, each from its registry, when it is
# missing: Go tools from the Go module proxy (OpenTofu built from it),
# Python tools from PyPI into .ci/.venv, Chromium and PostgreSQL from
# Debian's packages. .ci/run starts it in the background while cargo
# compiles, and waits for it before the first stage that needs a tool.
#
# usage: bash .ci/tools.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Debian's packages first: apt waits on the network more than on the CPU.
# The browser of the UI test with its WebDriver, and PostgreSQL.
packages=()
command -v chromium >/dev/null && command -v chromedriver >/dev/null || packages+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || packages+=(postgresql)
if [ ${#packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# moto's S3 server stands in for S3 in the storage test; kubernetes-validate
# carries the Kubernetes JSON schemas, so kubeconform runs offline; PyYAML
# reads the rendered chart; Selenium drives Chromium in the UI test; grpcio
# runs the Python gRPC example (examples/python) in the chart's e2e;
# schemathesis fuzzes the REST API (.ci/schemathesis.sh pins the same).
if [ ! -x .ci/.venv/bin/moto_server ] || [ ! -x .ci/.venv/bin/st ] \
  || ! .ci/.venv/bin/python -c 'import kubernetes_validate, yaml, selenium, grpc_tools, openapi_spec_validator' 2>/dev/null; then
  python3 -m venv .ci/.venv
  .ci/.venv/bin/pip install --quiet 'moto[server]==5.2.5' 'kubernetes-validate==1.37.0' 'PyYAML==6.0.3' 'selenium==4.40.0' \
    'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0' -r examples/python/requirements.txt
fi

command -v grpcurl >/dev/null || go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
command -v helm >/dev/null || go install helm.sh/helm/v3/cmd/helm@v3.22.0
command -v kubeconform >/dev/null || go install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
# buf lints the protos and generates the Go gRPC example's stubs.
command -v buf >/dev/null || go install github.com/bufbuild/buf/cmd/buf@v1.75.0
command -v protoc-gen-go >/dev/null || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
command -v protoc-gen-go-grpc >/dev/null || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
bash .ci/terraform.sh --install-tofu
# The Go modules of the provider and of the Go example, fetched now.
(cd terraform && go mod download)
(cd examples/go && go mod download)
echo "tools: ready"

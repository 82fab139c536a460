#!/usr/bin/env bash
# The OpenTofu/Terraform provider (terraform/): gofmt, go vet,
# a build, its unit tests, and the acceptance test that drives a real tofu
# against a real standalone server it starts itself.
#
#   bash .ci/terraform.sh [path/to/aerie]      (default target/debug/aerie)
#   bash .ci/terraform.sh --install-tofu       (only build tofu when missing)
#
# Needs only Go and the Go module proxy: tofu is built from it when it is not
# on PATH (several minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."

aerie=${1:-target/debug/aerie}

# No VCS stamping: builds inside this repository must not depend on git.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
gobin=$(go env GOPATH)/bin
export PATH="$gobin:$PATH"
tofu_version=v1.12.6
if ! command -v tofu >/dev/null; then
  echo "== building OpenTofu $tofu_version from the Go module proxy"
  # `go install github.com/opentofu/opentofu/cmd/tofu@$tofu_version` is
  # refused: OpenTofu's go.mod has a replace directive (its fork of hcl), which
  # go install does not allow. So build it as the main module, from the
  # module cache, as its release does (version.dev=no drops "-dev").
  src=$(go mod download -json "github.com/opentofu/opentofu@$tofu_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "cannot download github.com/opentofu/opentofu@$tofu_version" >&2; exit 1; }
  start=$SECONDS
  (cd "$src" && go build -ldflags "-X 'github.com/opentofu/opentofu/version.dev=no'" -o "$gobin/tofu" ./cmd/tofu)
  echo "built tofu in $((SECONDS - start)) s"
fi
tofu version 2>/dev/null | grep '^OpenTofu' || { echo "tofu does not run" >&2; exit 1; }
[ "$aerie" = --install-tofu ] && exit 0

if [ ! -x "$aerie" ]; then
  echo "no aerie binary at $aerie: build it first (cargo build --bin aerie)" >&2
  exit 1
fi
aerie=$(cd "$(dirname "$aerie")" && pwd)/$(basename "$aerie")

cd terraform
echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean:" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "== go vet"
go vet ./...
echo "== build"
go build -o /dev/null .
echo "== unit and acceptance tests (server: $aerie)"
AERIE_BIN="$aerie" go test -count=1 -v ./...

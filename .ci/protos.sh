#!/usr/bin/env bash
# The gRPC contract as other languages' tooling sees it: `buf lint` with
# proto/buf.yaml, and `buf breaking` against the newest release tag (v*)
# once one exists (before 1.0, v1 changes in place: CHANGELOG.md).
#
# usage: bash .ci/protos.sh   (buf on PATH: .ci/run installs it)
set -euo pipefail
cd "$(dirname "$0")/../proto"

buf lint
echo "buf lint: clean"

tag=$(git tag --list 'v*' --sort=-v:refname | head -n 1)
if [ -n "$tag" ]; then
  buf breaking --against "../.git#tag=$tag,subdir=proto"
  echo "buf breaking: no breaking change since $tag"
else
  echo "buf breaking: no release tag yet, nothing to compare with"
fi

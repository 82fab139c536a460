#!/usr/bin/env bash
# Smoke test of the released shape: the `aerie` binary runs standalone on a
# fresh data-dir and passes the end-to-end walk-through (.ci/e2e.sh).
set -euo pipefail

aerie=${AERIE_BIN:-target/debug/aerie}
grpcurl=${GRPCURL:-grpcurl}
work=$(mktemp -d)
pid=""
# Only our server: `kill 0` would signal the whole process group, CI included.
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

cat >"$work/aerie.yml" <<YAML
aerie:
  tenants:
    enabled: true
  security:
    super-admin:
      username: admin
      password: smoke-test-password
  server:
    http-port: 0
    grpc-port: 0
  data-dir: $work/data
YAML

"$aerie" -c "$work/aerie.yml" server standalone 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
  grep -q "aerie standalone ready" "$work/server.log" && break
  sleep 0.1
done
ready=$(grep "aerie standalone ready" "$work/server.log") || { cat "$work/server.log"; exit 1; }
grpc=$(sed -E 's/.*grpc=([0-9.:]+).*/\1/' <<<"$ready")
http=$(sed -E 's/.*http=([0-9.:]+).*/\1/' <<<"$ready")
echo "standalone ready: grpc=$grpc http=$http"

fail() { echo "smoke: $*" >&2; cat "$work/server.log" >&2; exit 1; }

bash "$(dirname "$0")/e2e.sh" "$http" "$grpc" "$grpc" "$grpc" "$grpc" smoke-test-password "$work/server.log"

kill -TERM "$pid"
wait "$pid" || fail "standalone did not exit cleanly on SIGTERM"
pid=""
echo "smoke: 1 passed, 0 failed"

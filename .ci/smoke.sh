#!/usr/bin/env bash
# Smoke test of the released shape: the `aerie` binary runs standalone on a
# fresh data-dir, and a real grpcurl (from the Go module proxy) lists,
# describes and calls it over server reflection; curl checks the gateway.
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

token=$(curl -fsS -XPOST "http://$http/api/v1/auths/token" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"smoke-test-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
[ -n "$token" ] || fail "no token"
auth=(-H "authorization: Bearer $token")

services=$("$grpcurl" -plaintext "$grpc" list)
for s in aerie.tenant.v1.TenantService aerie.auth.v1.AuthService aerie.auth.v1.UserService \
  aerie.auth.v1.RbacService aerie.auth.v1.AuditService aerie.flow.v1.FlowService aerie.flow.v1.SecretService \
  aerie.flow.v1.KvService aerie.flow.v1.TriggerService aerie.execution.v1.ExecutionService \
  aerie.execution.v1.WebhookService grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
  grep -qx "$s" <<<"$services" || fail "grpcurl list lacks $s: $services"
done
"$grpcurl" -plaintext "$grpc" describe aerie.tenant.v1.TenantService | grep -q "rpc CreateTenant" \
  || fail "describe lacks CreateTenant"
if "$grpcurl" -plaintext -d '{}' "$grpc" aerie.tenant.v1.TenantService/ListTenants 2>"$work/err"; then
  fail "a call without a token was served"
fi
grep -q Unauthenticated "$work/err" || fail "no token: $(cat "$work/err")"
created=$("$grpcurl" -plaintext "${auth[@]}" -d '{"id":"smoke","name":"Smoke test","admin_username":"admin"}' "$grpc" aerie.tenant.v1.TenantService/CreateTenant)
grep -q '"id": "smoke"' <<<"$created" || fail "CreateTenant answered $created"
health=$("$grpcurl" -plaintext "$grpc" grpc.health.v1.Health/Check)
grep -q SERVING <<<"$health" || fail "health answered $health"
if "$grpcurl" -plaintext "${auth[@]}" -d '{"id":"Bad","name":"x"}' "$grpc" aerie.tenant.v1.TenantService/CreateTenant 2>"$work/err"; then
  fail "invalid id accepted"
fi
grep -q InvalidArgument "$work/err" || fail "invalid id: $(cat "$work/err")"

# A flow over gRPC in the new tenant, read back over REST byte for byte.
flow='id: hello\nnamespace: smoke.team\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: Hello\n'
made=$("$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' -d "{\"source\": \"$flow\"}" "$grpc" aerie.flow.v1.FlowService/CreateFlow)
grep -q '"revision": 1' <<<"$made" || fail "CreateFlow answered $made"
source=$(curl -fsS "http://$http/api/v1/smoke/flows/smoke.team/hello" -H "authorization: Bearer $token")
grep -qF '"source":"id: hello\nnamespace: smoke.team\n' <<<"$source" || fail "REST flow: $source"
if "$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' -d '{"source": "id: x\nnamespace: smoke\ntasks: []\n"}' \
  "$grpc" aerie.flow.v1.FlowService/CreateFlow 2>"$work/err"; then
  fail "an invalid flow was accepted"
fi
grep -q InvalidArgument "$work/err" || fail "invalid flow: $(cat "$work/err")"

# Run it over gRPC and wait for the end; its log line over REST.
ran=$("$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' \
  -d '{"namespace": "smoke.team", "flow_id": "hello", "wait": true}' "$grpc" aerie.execution.v1.ExecutionService/CreateExecution)
grep -q '"current": "SUCCESS"' <<<"$ran" || fail "CreateExecution answered $ran"
execution=$(sed -nE 's/^  "id": "([^"]+)".*/\1/p' <<<"$ran" | head -n 1)
[ -n "$execution" ] || fail "no execution id in $ran"
curl -fsS "http://$http/api/v1/smoke/logs/$execution" -H "authorization: Bearer $token" | grep -q '"message":"Hello"' \
  || fail "REST logs of $execution lack the Log task's line"

curl -fsS "http://$http/api/v1/tenants/smoke" -H "authorization: Bearer $token" | grep -q '"name":"Smoke test"' || fail "REST does not see the tenant"
curl -fsS "http://$http/health" | grep -q '"status":"UP"' || fail "health not UP"

kill -TERM "$pid"
wait "$pid" || fail "standalone did not exit cleanly on SIGTERM"
pid=""
echo "smoke: 1 passed, 0 failed"

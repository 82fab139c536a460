#!/usr/bin/env bash
# The end-to-end walk-through every deployment shape must pass: a real
# grpcurl (from the Go module proxy) lists, describes and calls the
# services over server reflection; curl checks the REST gateway. It creates
# a tenant, a flow, runs an execution and reads its log.
#
# usage: e2e.sh <http host:port> <grpc tenant> <grpc auth> <grpc flow> <grpc execution> <admin password> [log file]
# (standalone serves every service on one gRPC address: pass it four times)
set -euo pipefail

http=$1 grpc_tenant=$2 grpc_auth=$3 grpc_flow=$4 grpc_execution=$5 admin_password=$6
server_log=${7:-/dev/null}
grpcurl=${GRPCURL:-grpcurl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "smoke: $*" >&2; cat "$server_log" >&2; exit 1; }

token=$(curl -fsS -XPOST "http://$http/api/v1/auths/token" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
[ -n "$token" ] || fail "no token"
auth=(-H "authorization: Bearer $token")

# Each endpoint lists its services (one endpoint serves them all standalone).
expect_services() {
  local endpoint=$1; shift
  local services
  services=$("$grpcurl" -plaintext "$endpoint" list)
  for s in "$@" grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
    grep -qx "$s" <<<"$services" || fail "grpcurl list of $endpoint lacks $s: $services"
  done
}
expect_services "$grpc_tenant" aerie.tenant.v1.TenantService
expect_services "$grpc_auth" aerie.auth.v1.AuthService aerie.auth.v1.UserService aerie.auth.v1.RbacService aerie.auth.v1.AuditService
expect_services "$grpc_flow" aerie.flow.v1.FlowService aerie.flow.v1.SecretService aerie.flow.v1.KvService aerie.flow.v1.TriggerService aerie.flow.v1.NamespaceService
expect_services "$grpc_execution" aerie.execution.v1.ExecutionService aerie.execution.v1.WebhookService
"$grpcurl" -plaintext "$grpc_tenant" describe aerie.tenant.v1.TenantService | grep -q "rpc CreateTenant" \
  || fail "describe lacks CreateTenant"
if "$grpcurl" -plaintext -d '{}' "$grpc_tenant" aerie.tenant.v1.TenantService/ListTenants 2>"$work/err"; then
  fail "a call without a token was served"
fi
grep -q Unauthenticated "$work/err" || fail "no token: $(cat "$work/err")"
created=$("$grpcurl" -plaintext "${auth[@]}" -d '{"id":"smoke","name":"Smoke test","admin_username":"admin"}' "$grpc_tenant" aerie.tenant.v1.TenantService/CreateTenant)
grep -q '"id": "smoke"' <<<"$created" || fail "CreateTenant answered $created"
health=$("$grpcurl" -plaintext "$grpc_tenant" grpc.health.v1.Health/Check)
grep -q SERVING <<<"$health" || fail "health answered $health"
if "$grpcurl" -plaintext "${auth[@]}" -d '{"id":"Bad","name":"x"}' "$grpc_tenant" aerie.tenant.v1.TenantService/CreateTenant 2>"$work/err"; then
  fail "invalid id accepted"
fi
grep -q InvalidArgument "$work/err" || fail "invalid id: $(cat "$work/err")"

# A flow over gRPC in the new tenant, read back over REST byte for byte.
flow='id: hello\nnamespace: smoke.team\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: Hello\n'
made=$("$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' -d "{\"source\": \"$flow\"}" "$grpc_flow" aerie.flow.v1.FlowService/CreateFlow)
grep -q '"revision": 1' <<<"$made" || fail "CreateFlow answered $made"
source=$(curl -fsS "http://$http/api/v1/smoke/flows/smoke.team/hello" -H "authorization: Bearer $token")
grep -qF '"source":"id: hello\nnamespace: smoke.team\n' <<<"$source" || fail "REST flow: $source"
if "$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' -d '{"source": "id: x\nnamespace: smoke\ntasks: []\n"}' \
  "$grpc_flow" aerie.flow.v1.FlowService/CreateFlow 2>"$work/err"; then
  fail "an invalid flow was accepted"
fi
grep -q InvalidArgument "$work/err" || fail "invalid flow: $(cat "$work/err")"

# Run it over gRPC and wait for the end; its log line over REST.
ran=$("$grpcurl" -plaintext "${auth[@]}" -H 'x-aerie-tenant: smoke' \
  -d '{"namespace": "smoke.team", "flow_id": "hello", "wait": true}' "$grpc_execution" aerie.execution.v1.ExecutionService/CreateExecution)
grep -q '"current": "EXECUTION_STATE_SUCCESS"' <<<"$ran" || fail "CreateExecution answered $ran"
execution=$(sed -nE 's/^  "id": "([^"]+)".*/\1/p' <<<"$ran" | head -n 1)
[ -n "$execution" ] || fail "no execution id in $ran"
curl -fsS "http://$http/api/v1/smoke/logs/$execution" -H "authorization: Bearer $token" | grep -q '"message":"Hello"' \
  || fail "REST logs of $execution lack the Log task's line"

curl -fsS "http://$http/api/v1/tenants/smoke" -H "authorization: Bearer $token" | grep -q '"name":"Smoke test"' || fail "REST does not see the tenant"
curl -fsS "http://$http/health" | grep -q '"status":"UP"' || fail "health not UP"

echo "e2e: passed against http=$http"

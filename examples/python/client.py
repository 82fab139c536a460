"""Aerie over gRPC from Python: sign in, create a tenant and a flow, start
an execution and follow it to its end over the stream.

usage: python client.py HOST:PORT USERNAME PASSWORD [TENANT]

HOST:PORT is a public gRPC endpoint: the gateway's gRPC port on a
cluster, or the standalone server's (127.0.0.1:50051). The stubs are
generated from ../../proto first (see README.md).
"""
import pathlib
import sys
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "gen"))

import grpc  # noqa: E402
from google.protobuf import json_format, struct_pb2  # noqa: E402

from aerie.auth.v1 import auth_pb2, auth_pb2_grpc  # noqa: E402
from aerie.execution.v1 import execution_pb2, execution_pb2_grpc  # noqa: E402
from aerie.flow.v1 import flow_pb2, flow_pb2_grpc  # noqa: E402
from aerie.tenant.v1 import tenant_pb2, tenant_pb2_grpc  # noqa: E402

FLOW = """id: hello
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.who }}"
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
"""


def main():
    endpoint, username, password = sys.argv[1:4]
    tenant = sys.argv[4] if len(sys.argv) > 4 else f"py-{uuid.uuid4().hex[:8]}"
    channel = grpc.insecure_channel(endpoint)

    token = auth_pb2_grpc.AuthServiceStub(channel).IssueToken(
        auth_pb2.IssueTokenRequest(username=username, password=password)).access_token
    # Who calls, and in which tenant: the same two values on every call.
    as_admin = [("authorization", f"Bearer {token}")]
    in_tenant = as_admin + [("x-aerie-tenant", tenant)]

    tenant_pb2_grpc.TenantServiceStub(channel).CreateTenant(
        tenant_pb2.CreateTenantRequest(id=tenant, name=f"Python example {tenant}", admin_username=username),
        metadata=as_admin)
    print(f"tenant {tenant} created")

    flow = flow_pb2_grpc.FlowServiceStub(channel).CreateFlow(
        flow_pb2.CreateFlowRequest(source=FLOW), metadata=in_tenant)
    print(f"flow {flow.namespace}/{flow.id} revision {flow.revision}")

    executions = execution_pb2_grpc.ExecutionServiceStub(channel)
    inputs = struct_pb2.Struct()
    inputs.update({"who": "Python"})
    started = executions.CreateExecution(
        execution_pb2.CreateExecutionRequest(namespace="company.team", flow_id="hello", inputs=inputs),
        metadata=in_tenant)
    state = execution_pb2.ExecutionState.Name
    print(f"execution {started.id} {state(started.state.current)}")

    last = None
    for last in executions.FollowExecution(execution_pb2.FollowExecutionRequest(id=started.id),
                                           metadata=in_tenant):
        print(f"  {state(last.state.current)}")
    answer = json_format.MessageToDict(next(r for r in last.task_runs if r.task_id == "answer").outputs)
    print(f"ended {state(last.state.current)}: {answer}")
    if last.state.current != execution_pb2.EXECUTION_STATE_SUCCESS or answer.get("value") != "hello Python":
        sys.exit("the execution did not end as expected")


main()

// Aerie over gRPC from Go: sign in, create a tenant and a flow, start an
// execution and follow it to its end over the stream.
//
// usage: go run . HOST:PORT USERNAME PASSWORD [TENANT]
//
// HOST:PORT is a public gRPC endpoint: the gateway's gRPC port on a
// cluster, or the standalone server's (127.0.0.1:50051). Generate the stubs
// first (see README.md).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	authv1 "github.com/aerie-dev/aerie/examples/go/gen/aerie/auth/v1"
	executionv1 "github.com/aerie-dev/aerie/examples/go/gen/aerie/execution/v1"
	flowv1 "github.com/aerie-dev/aerie/examples/go/gen/aerie/flow/v1"
	tenantv1 "github.com/aerie-dev/aerie/examples/go/gen/aerie/tenant/v1"
)

const flow = `id: hello
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
`

func main() {
	if len(os.Args) < 4 {
		log.Fatal("usage: go run . HOST:PORT USERNAME PASSWORD [TENANT]")
	}
	endpoint, username, password := os.Args[1], os.Args[2], os.Args[3]
	tenant := fmt.Sprintf("go-%d", time.Now().UnixNano()%1_000_000_000)
	if len(os.Args) > 4 {
		tenant = os.Args[4]
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	check(err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	token, err := authv1.NewAuthServiceClient(conn).IssueToken(ctx,
		&authv1.IssueTokenRequest{Username: username, Password: password})
	check(err)
	// Who calls, and in which tenant: the same two values on every call.
	asAdmin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token.GetAccessToken())
	inTenant := metadata.AppendToOutgoingContext(asAdmin, "x-aerie-tenant", tenant)

	_, err = tenantv1.NewTenantServiceClient(conn).CreateTenant(asAdmin, &tenantv1.CreateTenantRequest{
		Id: tenant, Name: "Go example " + tenant, AdminUsername: username})
	check(err)
	fmt.Printf("tenant %s created\n", tenant)

	created, err := flowv1.NewFlowServiceClient(conn).CreateFlow(inTenant, &flowv1.CreateFlowRequest{Source: flow})
	check(err)
	fmt.Printf("flow %s/%s revision %d\n", created.GetNamespace(), created.GetId(), created.GetRevision())

	executions := executionv1.NewExecutionServiceClient(conn)
	inputs, err := structpb.NewStruct(map[string]any{"who": "Go"})
	check(err)
	started, err := executions.CreateExecution(inTenant, &executionv1.CreateExecutionRequest{
		Namespace: "company.team", FlowId: "hello", Inputs: inputs})
	check(err)
	fmt.Printf("execution %s %s\n", started.GetId(), started.GetState().GetCurrent())

	stream, err := executions.FollowExecution(inTenant, &executionv1.FollowExecutionRequest{Id: started.GetId()})
	check(err)
	var last *executionv1.Execution
	for {
		execution, err := stream.Recv()
		if err == io.EOF {
			break
		}
		check(err)
		last = execution
		fmt.Printf("  %s\n", execution.GetState().GetCurrent())
	}
	if last == nil {
		log.Fatal("the stream ended without an update")
	}
	answer := ""
	for _, run := range last.GetTaskRuns() {
		if run.GetTaskId() == "answer" {
			answer = run.GetOutputs().GetFields()["value"].GetStringValue()
		}
	}
	fmt.Printf("ended %s: %s\n", last.GetState().GetCurrent(), answer)
	if last.GetState().GetCurrent() != executionv1.ExecutionState_EXECUTION_STATE_SUCCESS || answer != "hello Go" {
		log.Fatal("the execution did not end as expected")
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

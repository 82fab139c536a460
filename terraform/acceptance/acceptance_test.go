// Package acceptance drives a real OpenTofu binary against a real Aerie
// server started by the test. It needs AERIE_BIN (the aerie binary) and a
// tofu binary (TOFU_BIN, or tofu on PATH); without AERIE_BIN it is skipped.
package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	adminPassword = "admin-password-1"
	bobPassword   = "bob-password-1"
)

// harness is one server, the provider built from this module and tofu.
type harness struct {
	t         *testing.T
	tofu      string
	cliConfig string
	endpoint  string
	admin     string // the super admin's access token
}

func TestAcceptance(t *testing.T) {
	h := setup(t)
	main := t.TempDir()

	// 1. Apply: two tenants, a user bound as Admin in each, the caller
	// bound in alpha, a role, a group, a service account, a flow, a secret
	// and a KV entry; data sources read back through outputs.
	t.Log("1. apply: tenants, user, bindings, role, group, service account, flow, secret, KV; data sources")
	h.write(main, configFor(scenario{alphaName: "Alpha", beta: true, viewer: viewerPermissions}))
	h.apply(main)
	h.expectOutput(main, "alpha_name", `"Alpha"`)
	h.expectOutput(main, "tenant_ids", `["alpha","beta"]`)
	h.expectOutput(main, "me", `{"super_admin":true,"username":"admin"}`)
	h.expectOutput(main, "flow_revision", `1`)
	for _, tenant := range []string{"alpha", "beta"} {
		h.expectStatus("GET", "/api/v1/tenants/"+tenant, h.admin, 200)
		if !strings.Contains(h.get("/api/v1/"+tenant+"/bindings", h.admin), `"type":"USER","subject":"ann","role":"Admin"`) {
			t.Fatalf("ann is not Admin in %s", tenant)
		}
	}
	ann := h.login("ann", "ann-password-1")
	if !strings.Contains(h.get("/api/v1/alpha/flows/company.team/hello", ann), `"source":"id: hello\n`) {
		t.Fatal("ann cannot read the flow in alpha")
	}
	if !strings.Contains(h.get("/api/v1/alpha/namespaces/company/secrets", ann), `"key":"DB_PASSWORD"`) {
		t.Fatal("the secret is missing")
	}
	// The secret's value is write-only: in no state, and in no plan.
	if state, err := os.ReadFile(filepath.Join(main, "terraform.tfstate")); err != nil || strings.Contains(string(state), "hunter2") {
		t.Fatalf("the state holds the secret's value (or cannot be read: %v)", err)
	}
	if !strings.Contains(h.get("/api/v1/alpha/namespaces/company/kv/threshold", ann), `"type":"NUMBER","value":42`) {
		t.Fatal("the KV entry is missing")
	}
	if !strings.Contains(h.get("/api/v1/alpha/groups", h.admin), `{"name":"devs","members":["ann"]}`) {
		t.Fatal("the group is missing")
	}
	if mode := h.get("/api/v1/namespaces/company/kv/mode", h.admin); !strings.Contains(mode, `"type":"JSON","value":{"replicas":2,"tier":"gold"}`) ||
		strings.Contains(mode, `"expirationDate":null`) {
		t.Fatalf("the KV entry of the default tenant is not as configured: %s", mode)
	}

	// 2. A second plan has nothing to do.
	t.Log("2. second plan: no changes")
	h.expectPlan(main, 0)

	// 3. The service account's token authenticates a provider.
	t.Log("3. the service account's token authenticates a provider")
	token := h.output(main, "-raw", "ci_token")
	if !strings.HasPrefix(token, "aerie_") {
		t.Fatalf("ci_token is %q", token)
	}
	viaToken := t.TempDir()
	h.write(viaToken, fmt.Sprintf(`%s
provider "aerie" {
  endpoint = %q
  token    = %q
}
data "aerie_me" "me" {}
output "me" { value = data.aerie_me.me.username }
`, header, h.endpoint, token))
	h.apply(viaToken)
	h.expectOutput(viaToken, "me", `"ci"`)

	// 4. Renaming a tenant is an in-place update.
	t.Log("4. rename a tenant: in-place update")
	h.write(main, configFor(scenario{alphaName: "Alpha Renamed", beta: true, viewer: viewerPermissions}))
	out := h.expectPlan(main, 2)
	expectContains(t, out, "aerie_tenant.alpha will be updated in-place", `~ name = "Alpha" -> "Alpha Renamed"`, "0 to add, 1 to change, 0 to destroy")
	h.apply(main)
	if !strings.Contains(h.get("/api/v1/tenants/alpha", h.admin), `"name":"Alpha Renamed"`) {
		t.Fatal("the tenant was not renamed")
	}
	h.expectOutput(main, "alpha_name", `"Alpha Renamed"`)
	h.expectPlan(main, 0)

	// 5. A role whose permissions change is replaced, with the bindings
	// that use it (replace_triggered_by), since Aerie cannot update a role.
	t.Log("5. role permissions change: role and its bindings replaced")
	renamed := scenario{alphaName: "Alpha Renamed", beta: true, viewer: `["FLOW:READ"]`}
	h.write(main, configFor(renamed))
	out = h.expectPlan(main, 2)
	expectContains(t, out, "aerie_role.viewer must be replaced", "aerie_binding.devs will be replaced due to changes in replace_triggered_by",
		"3 to add, 0 to change, 3 to destroy")
	h.apply(main)
	if !strings.Contains(h.get("/api/v1/alpha/roles", h.admin), `{"name":"viewer","permissions":["FLOW:READ"],"predefined":false}`) {
		t.Fatal("the role was not replaced")
	}
	h.expectPlan(main, 0)

	// 6. Drift: a flow deleted out of band is created again, a secret
	// written out of band is written again, a revoked API token is
	// replaced by a new one.
	t.Log("6. drift: flow deleted, secret written, token revoked out of band")
	h.expectStatus("DELETE", "/api/v1/alpha/flows/company.team/hello", h.admin, 204)
	if code, body := h.call("PUT", "/api/v1/alpha/namespaces/company/secrets/DB_PASSWORD", h.admin, map[string]string{"value": "changed"}); code != 200 {
		t.Fatalf("writing the secret: %d %s", code, body)
	}
	var tokens struct{ Results []struct{ ID string } }
	h.getJSON("/api/v1/alpha/service-accounts/ci/tokens", &tokens)
	h.expectStatus("DELETE", "/api/v1/alpha/service-accounts/ci/tokens/"+tokens.Results[0].ID, h.admin, 200) // answers the revoked token
	out = h.expectPlan(main, 2)
	expectContains(t, out, "aerie_flow.hello will be created", "aerie_namespace_secret.db will be updated in-place",
		"aerie_service_account.ci will be updated in-place", "1 to add, 2 to change, 0 to destroy")
	h.apply(main)
	h.expectStatus("GET", "/api/v1/alpha/flows/company.team/hello", h.admin, 200)
	newToken := h.output(main, "-raw", "ci_token")
	if newToken == token {
		t.Fatal("the revoked token was kept")
	}
	h.expectStatus("GET", "/api/v1/me", newToken, 200)
	h.expectPlan(main, 0)

	// 7. Drift: a tenant deleted (and renamed) out of band is planned
	// again and recreated: Aerie gives a deleted tenant's id to nobody new,
	// so the apply restores it, then gives it the configured name.
	t.Log("7. tenant deleted out of band: planned again, restored with the configured name")
	if code, body := h.call("PUT", "/api/v1/tenants/beta", h.admin, map[string]string{"name": "Renamed away"}); code != 200 {
		t.Fatalf("renaming beta: %d %s", code, body)
	}
	h.expectStatus("DELETE", "/api/v1/tenants/beta", h.admin, 204)
	out = h.expectPlan(main, 2)
	expectContains(t, out, "aerie_tenant.beta will be created", "Tenant beta will be restored",
		"Tenant beta is deleted", "1 to add, 0 to change, 0 to destroy")
	h.apply(main)
	var beta struct{ Name string }
	h.getJSON("/api/v1/tenants/beta", &beta)
	if beta.Name != "Beta" {
		t.Fatalf("beta came back named %q", beta.Name)
	}
	// What it held came back with it: kept in the state, clean again.
	h.expectStatus("GET", "/api/v1/beta/flows/company.team/hello", h.admin, 200)
	h.expectPlan(main, 0)
	// Out of the configuration: destroyed (the tenant list, a data source,
	// was read before that, so the next apply's outputs show it).
	renamed.beta = false
	h.write(main, configFor(renamed))
	h.apply(main)
	h.expectStatus("GET", "/api/v1/tenants/beta", h.admin, 404)
	h.apply(main)
	h.expectOutput(main, "tenant_ids", `["alpha"]`)
	h.expectPlan(main, 0)

	// 8. Import into a fresh state: a tenant and a flow, then a clean plan.
	t.Log("8. import a tenant and a flow: clean plan")
	imported := t.TempDir()
	h.write(imported, header+`provider "aerie" {}
resource "aerie_tenant" "alpha" {
  tenant_id = "alpha"
  name      = "Alpha Renamed"
}
resource "aerie_flow" "hello" {
  tenant_id = aerie_tenant.alpha.tenant_id
  namespace = "company.team"
  flow_id   = "hello"
  content   = `+flowContent+`
}
`)
	h.mustTofu(imported, "import", "aerie_tenant.alpha", "alpha")
	h.mustTofu(imported, "import", "aerie_flow.hello", "alpha/company.team/hello")
	h.expectPlan(imported, 0)

	// 9. Import of every resource type into a fresh state of the whole
	// configuration: clean but for what Aerie never returns (the user's
	// password, the secret's value, the service account's token, a KV
	// entry's ttl), which the next apply writes.
	t.Log("9. import every resource type")
	all := t.TempDir()
	h.write(all, configFor(renamed))
	bindings := map[string]string{}
	var list struct {
		Results []struct{ ID, Type, Subject, Role string }
	}
	for tenant, path := range map[string]string{"alpha": "/api/v1/alpha/bindings", "": "/api/v1/bindings"} {
		h.getJSON(path, &list)
		for _, b := range list.Results {
			bindings[tenant+"/"+b.Type+"/"+b.Subject+"/"+b.Role] = tenant + "/" + b.ID
		}
	}
	for addr, id := range map[string]string{
		"aerie_tenant.alpha":         "alpha",
		"aerie_user.ann":             "ann",
		`aerie_binding.ann["alpha"]`: bindings["alpha/USER/ann/Admin"],
		"aerie_binding.me":           bindings["alpha/USER/admin/Admin"],
		"aerie_binding.devs":         bindings["alpha/GROUP/devs/viewer"],
		"aerie_binding.ci":           bindings["alpha/SERVICE_ACCOUNT/ci/viewer"],
		"aerie_binding.me_default":   bindings["/USER/admin/Admin"],
		"aerie_role.viewer":          "alpha/viewer",
		"aerie_group.devs":           "alpha/devs",
		"aerie_service_account.ci":   "alpha/ci",
		"aerie_flow.hello":           "alpha/company.team/hello",
		"aerie_namespace_secret.db":  "alpha/company/DB_PASSWORD",
		"aerie_kv.threshold":         "alpha/company/threshold",
		"aerie_kv.mode":              "/company/mode",
	} {
		h.mustTofu(all, "import", addr, id)
	}
	out = h.expectPlan(all, 2)
	expectContains(t, out, "aerie_user.ann will be updated in-place", "aerie_namespace_secret.db will be updated in-place",
		"aerie_service_account.ci will be updated in-place", "aerie_kv.mode will be updated in-place", "0 to add, 4 to change, 0 to destroy")

	// 10. A user without TENANT:CREATE: the plan fails with the API's
	// message (asked with a dry-run create), and nothing is created.
	t.Log("10. user without TENANT:CREATE: plan fails with the API's message")
	bob := t.TempDir()
	h.write(bob, fmt.Sprintf(`%s
provider "aerie" {
  endpoint = %q
  username = "bob"
  password = %q
}
resource "aerie_tenant" "bobs" {
  tenant_id = "bobs"
  name      = "Bob's"
}
`, header, h.endpoint, bobPassword))
	out, code := h.tofuCmd(bob, "plan", "-detailed-exitcode")
	if code != 1 {
		t.Fatalf("bob's plan did not fail (exit %d):\n%s", code, out)
	}
	expectContains(t, out, "bob may not CREATE TENANT in the default tenant")
	h.expectStatus("GET", "/api/v1/tenants/bobs", h.admin, 404)

	// 11. Destroy: the tenant and the user are gone.
	t.Log("11. destroy: tenant and user gone")
	h.mustTofu(main, "destroy", "-auto-approve")
	h.expectStatus("GET", "/api/v1/tenants/alpha", h.admin, 404)
	h.expectStatus("GET", "/api/v1/users/ann", h.admin, 404)

	// 12. The README's example configuration, as written: two tenants,
	// alice Admin in each, a flow and a secret in prod; then destroyed.
	t.Log("12. examples/main.tf applies as documented, then destroys")
	example := t.TempDir()
	source, err := os.ReadFile(filepath.Join("..", "examples", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	h.write(example, string(source))
	vars := []string{"-var", "endpoint=" + h.endpoint, "-var", "alice_password=alice-password-1", "-var", "db_password=hunter3"}
	h.mustTofu(example, append([]string{"apply", "-auto-approve"}, vars...)...)
	alice := h.login("alice", "alice-password-1")
	for _, tenant := range []string{"prod", "stage"} {
		h.expectStatus("GET", "/api/v1/"+tenant+"/flows/search", alice, 200)
	}
	h.expectStatus("GET", "/api/v1/prod/flows/company.team/hello", alice, 200)
	if !strings.Contains(h.get("/api/v1/prod/namespaces/company/secrets", alice), `"key":"DB_PASSWORD"`) {
		t.Fatal("the example's secret is missing")
	}
	h.mustTofu(example, append([]string{"destroy", "-auto-approve"}, vars...)...)
	h.expectStatus("GET", "/api/v1/tenants/prod", h.admin, 404)
}

const viewerPermissions = `["FLOW:READ", "EXECUTION:READ"]`

const header = `terraform {
  required_providers {
    aerie = { source = "aerie-dev/aerie" }
  }
}
`

const flowContent = `<<-YAML
    id: hello
    namespace: company.team
    tasks:
      - id: greet
        type: io.kestra.plugin.core.log.Log
        message: "Hello from {{ flow.namespace }}"
  YAML`

type scenario struct {
	alphaName string
	beta      bool
	viewer    string
}

// configFor is the scenario's configuration; the provider takes its
// endpoint and credentials from AERIE_ENDPOINT, AERIE_USERNAME and
// AERIE_PASSWORD.
func configFor(s scenario) string {
	tenants := `{ alpha = aerie_tenant.alpha.tenant_id }`
	beta := ""
	if s.beta {
		tenants = `{ alpha = aerie_tenant.alpha.tenant_id, beta = aerie_tenant.beta.tenant_id }`
		beta = `resource "aerie_tenant" "beta" {
  tenant_id = "beta"
  name      = "Beta"
}

resource "aerie_binding" "me_beta" {
  tenant_id = aerie_tenant.beta.tenant_id
  type      = "USER"
  subject   = data.aerie_me.me.username
  role      = "Admin"
}

resource "aerie_flow" "beta_hello" {
  tenant_id  = aerie_tenant.beta.tenant_id
  namespace  = "company.team"
  flow_id    = "hello"
  content    = ` + flowContent + `
  depends_on = [aerie_binding.me_beta]
}`
	}
	return header + `provider "aerie" {}

data "aerie_me" "me" {}

resource "aerie_tenant" "alpha" {
  tenant_id = "alpha"
  name      = "` + s.alphaName + `"
}
` + beta + `

resource "aerie_user" "ann" {
  username = "ann"
  password = "ann-password-1"
}

resource "aerie_binding" "ann" {
  for_each  = ` + tenants + `
  tenant_id = each.value
  type      = "USER"
  subject   = aerie_user.ann.username
  role      = "Admin"
}

# The provider's own user needs a binding to manage flows, secrets and KV.
resource "aerie_binding" "me" {
  tenant_id = aerie_tenant.alpha.tenant_id
  type      = "USER"
  subject   = data.aerie_me.me.username
  role      = "Admin"
}

resource "aerie_role" "viewer" {
  tenant_id   = aerie_tenant.alpha.tenant_id
  name        = "viewer"
  permissions = ` + s.viewer + `
}

resource "aerie_group" "devs" {
  tenant_id = aerie_tenant.alpha.tenant_id
  name      = "devs"
  members   = [aerie_user.ann.username]
}

resource "aerie_binding" "devs" {
  tenant_id = aerie_tenant.alpha.tenant_id
  type      = "GROUP"
  subject   = aerie_group.devs.name
  role      = aerie_role.viewer.name
  namespace = "company"
  lifecycle {
    replace_triggered_by = [aerie_role.viewer]
  }
}

resource "aerie_service_account" "ci" {
  tenant_id = aerie_tenant.alpha.tenant_id
  name      = "ci"
}

resource "aerie_binding" "ci" {
  tenant_id = aerie_tenant.alpha.tenant_id
  type      = "SERVICE_ACCOUNT"
  subject   = aerie_service_account.ci.name
  role      = aerie_role.viewer.name
  lifecycle {
    replace_triggered_by = [aerie_role.viewer]
  }
}

resource "aerie_flow" "hello" {
  tenant_id  = aerie_tenant.alpha.tenant_id
  namespace  = "company.team"
  flow_id    = "hello"
  content    = ` + flowContent + `
  depends_on = [aerie_binding.me]
}

resource "aerie_namespace_secret" "db" {
  tenant_id  = aerie_tenant.alpha.tenant_id
  namespace  = "company"
  key        = "DB_PASSWORD"
  value      = "hunter2"
  depends_on = [aerie_binding.me]
}

resource "aerie_kv" "threshold" {
  tenant_id  = aerie_tenant.alpha.tenant_id
  namespace  = "company"
  key        = "threshold"
  value      = "42"
  depends_on = [aerie_binding.me]
}

# The default tenant (no tenant_id): the caller binds itself there too.
resource "aerie_binding" "me_default" {
  type    = "USER"
  subject = data.aerie_me.me.username
  role    = "Admin"
}

resource "aerie_kv" "mode" {
  namespace  = "company"
  key        = "mode"
  value      = jsonencode({ replicas = 2, tier = "gold" })
  ttl        = "P7D"
  depends_on = [aerie_binding.me_default]
}

data "aerie_tenant" "alpha" {
  tenant_id = aerie_tenant.alpha.tenant_id
}

data "aerie_tenants" "all" {
  depends_on = [aerie_tenant.alpha` + map[bool]string{true: ", aerie_tenant.beta", false: ""}[s.beta] + `]
}

output "alpha_name" { value = data.aerie_tenant.alpha.name }
output "tenant_ids" { value = [for t in data.aerie_tenants.all.tenants : t.tenant_id] }
output "me" { value = { username = data.aerie_me.me.username, super_admin = data.aerie_me.me.super_admin } }
output "flow_revision" { value = aerie_flow.hello.revision }
output "ci_token" {
  value     = aerie_service_account.ci.token
  sensitive = true
}
`
}

// setup builds the provider, starts a server with a super admin (admin) and
// a plain user (bob), and writes tofu's CLI configuration.
func setup(t *testing.T) *harness {
	aerie := os.Getenv("AERIE_BIN")
	if aerie == "" {
		t.Skip("AERIE_BIN is not set: the acceptance test needs the aerie binary (bash .ci/terraform.sh sets it)")
	}
	tofu := os.Getenv("TOFU_BIN")
	if tofu == "" {
		var err error
		if tofu, err = exec.LookPath("tofu"); err != nil {
			t.Fatal("no tofu on PATH and TOFU_BIN is not set")
		}
	}
	dir := t.TempDir()

	// The provider, from this module.
	plugins := filepath.Join(dir, "plugins")
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "terraform-provider-aerie"), "github.com/aerie-dev/terraform-provider-aerie")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(dir, "tofurc")
	writeFile(t, cliConfig, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "aerie-dev/aerie" = %q
  }
  direct {}
}
`, plugins))

	// The server, on two free ports, with a fresh data dir.
	httpPort, grpcPort := freePort(t), freePort(t)
	config := filepath.Join(dir, "aerie.yml")
	writeFile(t, config, fmt.Sprintf(`aerie:
  data-dir: %s
  server:
    http-port: %d
    grpc-port: %d
  tenants:
    enabled: true
    default-tenant: true
`, filepath.Join(dir, "data"), httpPort, grpcPort))
	serverEnv := serverEnviron()
	for _, args := range [][]string{
		{"auths", "users", "create", "--username", "admin", "--password", adminPassword, "--super-admin"},
		{"auths", "users", "create", "--username", "bob", "--password", bobPassword},
	} {
		cmd := exec.Command(aerie, append([]string{"-c", config}, args...)...)
		cmd.Env = serverEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aerie %v: %v\n%s", args, err, out)
		}
	}
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	server := exec.Command(aerie, "-c", config, "server", "standalone")
	server.Env, server.Stdout, server.Stderr = serverEnv, logFile, logFile
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = server.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = server.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("server log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})

	h := &harness{t: t, tofu: tofu, cliConfig: cliConfig, endpoint: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not become healthy at %s", h.endpoint)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.admin = h.login("admin", adminPassword)
	return h
}

// serverEnviron is this process's environment without the provider's
// AERIE_* variables, which the server refuses as unknown keys.
func serverEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "AERIE_ENDPOINT", "AERIE_TOKEN", "AERIE_USERNAME", "AERIE_PASSWORD":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// run runs tofu in dir as the super admin (through the provider's
// environment variables) and returns its standard output, its standard
// error and its exit code.
func (h *harness) run(dir string, args ...string) (string, string, int) {
	h.t.Helper()
	if args[0] != "output" && args[0] != "import" {
		args = append(args, "-input=false")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.tofu, append([]string{args[0], "-no-color"}, args[1:]...)...)
	cmd.Dir = dir
	cmd.Env = append(serverEnviron(),
		"TF_CLI_CONFIG_FILE="+h.cliConfig,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
		"AERIE_ENDPOINT="+h.endpoint,
		"AERIE_USERNAME=admin",
		"AERIE_PASSWORD="+adminPassword,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		h.t.Fatalf("tofu %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// tofuCmd is run with both outputs together.
func (h *harness) tofuCmd(dir string, args ...string) (string, int) {
	h.t.Helper()
	stdout, stderr, code := h.run(dir, args...)
	return stdout + stderr, code
}

func (h *harness) mustTofu(dir string, args ...string) string {
	h.t.Helper()
	out, code := h.tofuCmd(dir, args...)
	if code != 0 {
		h.t.Fatalf("tofu %v exited %d:\n%s", args, code, out)
	}
	return out
}

func (h *harness) apply(dir string) { h.t.Helper(); h.mustTofu(dir, "apply", "-auto-approve") }

// expectPlan runs plan -detailed-exitcode: 0 no changes, 2 changes.
func (h *harness) expectPlan(dir string, want int) string {
	h.t.Helper()
	out, code := h.tofuCmd(dir, "plan", "-detailed-exitcode")
	if code != want {
		h.t.Fatalf("tofu plan exited %d, want %d:\n%s", code, want, out)
	}
	return out
}

// output is the value of an output, as tofu output -raw or -json prints it.
func (h *harness) output(dir, format, name string) string {
	h.t.Helper()
	stdout, stderr, code := h.run(dir, "output", format, name)
	if code != 0 {
		h.t.Fatalf("tofu output %s exited %d:\n%s%s", name, code, stdout, stderr)
	}
	return strings.TrimSpace(stdout)
}

func (h *harness) expectOutput(dir, name, want string) {
	h.t.Helper()
	got := h.output(dir, "-json", name)
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		h.t.Fatalf("output %s: %v: %s", name, err, got)
	}
	compact, _ := json.Marshal(v)
	if string(compact) != want {
		h.t.Fatalf("output %s = %s, want %s", name, compact, want)
	}
}

func (h *harness) write(dir, config string) {
	h.t.Helper()
	writeFile(h.t, filepath.Join(dir, "main.tf"), config)
}

func (h *harness) call(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var in bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&in).Encode(body)
	}
	req, err := http.NewRequest(method, h.endpoint+path, &in)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

func (h *harness) expectStatus(method, path, token string, want int) {
	h.t.Helper()
	if code, body := h.call(method, path, token, nil); code != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, code, body, want)
	}
}

func (h *harness) get(path, token string) string {
	h.t.Helper()
	code, body := h.call("GET", path, token, nil)
	if code != 200 {
		h.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return string(body)
}

func (h *harness) getJSON(path string, out any) {
	h.t.Helper()
	if err := json.Unmarshal([]byte(h.get(path, h.admin)), out); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) login(username, password string) string {
	h.t.Helper()
	code, body := h.call("POST", "/api/v1/auths/token", "", map[string]string{"username": username, "password": password})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code != 200 || json.Unmarshal(body, &tok) != nil {
		h.t.Fatalf("login as %s: %d %s", username, code, body)
	}
	return tok.AccessToken
}

// expectContains checks that out holds each of wants, whatever the
// whitespace, line wrapping and diagnostic frames (│) of either.
func expectContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	flat := func(s string) string {
		return strings.Join(strings.Fields(strings.NewReplacer("│", " ", "╷", " ", "╵", " ").Replace(s)), " ")
	}
	for _, want := range wants {
		if !strings.Contains(flat(out), flat(want)) {
			t.Fatalf("the output lacks %q:\n%s", want, out)
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

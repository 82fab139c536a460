# Two tenants, a user who is Admin in each, a flow and a secret in prod.
#
#   export AERIE_USERNAME=admin AERIE_PASSWORD=...    # a super admin
#   export TF_VAR_alice_password=... TF_VAR_db_password=...
#   tofu apply -var endpoint=http://localhost:8080

terraform {
  required_providers {
    aerie = {
      source = "aerie-dev/aerie"
    }
  }
}

variable "endpoint" {
  type    = string
  default = "http://localhost:8080"
}

variable "alice_password" {
  type      = string
  sensitive = true
}

variable "db_password" {
  type      = string
  sensitive = true
}

# Credentials from AERIE_USERNAME and AERIE_PASSWORD (or AERIE_TOKEN).
provider "aerie" {
  endpoint = var.endpoint
}

# Who the provider acts as.
data "aerie_me" "me" {}

resource "aerie_tenant" "this" {
  for_each = {
    prod  = "Production"
    stage = "Staging"
  }
  tenant_id = each.key
  name      = each.value
}

resource "aerie_user" "alice" {
  username = "alice"
  password = var.alice_password
}

resource "aerie_binding" "alice_admin" {
  for_each  = aerie_tenant.this
  tenant_id = each.value.tenant_id
  type      = "USER"
  subject   = aerie_user.alice.username
  role      = "Admin"
}

# A super admin sees no flow or secret of a tenant it has no binding in:
# the provider's own user is made Admin of prod before writing there.
resource "aerie_binding" "me_prod" {
  tenant_id = aerie_tenant.this["prod"].tenant_id
  type      = "USER"
  subject   = data.aerie_me.me.username
  role      = "Admin"
}

resource "aerie_flow" "hello" {
  tenant_id = aerie_binding.me_prod.tenant_id # after the binding
  namespace = "company.team"
  flow_id   = "hello"
  content   = <<-YAML
    id: hello
    namespace: company.team
    tasks:
      - id: greet
        type: io.kestra.plugin.core.log.Log
        message: "Hello from {{ flow.namespace }}, the database password is {{ secret('DB_PASSWORD') }}"
  YAML
}

resource "aerie_namespace_secret" "db_password" {
  tenant_id = aerie_binding.me_prod.tenant_id # after the binding
  namespace = "company"
  key       = "DB_PASSWORD"
  value     = var.db_password
}

output "tenants" {
  value = { for id, t in aerie_tenant.this : id => t.name }
}

output "flow" {
  value = "${aerie_flow.hello.id} revision ${aerie_flow.hello.revision}"
}

// Package provider is the OpenTofu/Terraform provider for Aerie: tenants,
// users, access (roles, groups, bindings, service accounts), flows,
// namespace secrets and KV entries, over Aerie's REST API.
package provider

import (
	"context"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// New makes the provider; version is shown by `tofu version`.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &aerieProvider{version: version} }
}

type aerieProvider struct{ version string }

type providerModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	Token    types.String `tfsdk:"token"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
}

func (p *aerieProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "aerie"
	resp.Version = p.version
}

func (p *aerieProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages an Aerie instance through its REST API: tenants, users, access, flows, secrets and KV entries.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional:    true,
				Description: "Base URL of the Aerie gateway, e.g. http://localhost:8080. Default: $AERIE_ENDPOINT.",
			},
			"token": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Bearer token: an access token or a service account's API token (aerie_...). Default: $AERIE_TOKEN. Give either this or username and password.",
			},
			"username": schema.StringAttribute{
				Optional:    true,
				Description: "User to log in as with password. Default: $AERIE_USERNAME.",
			},
			"password": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Password of username. Default: $AERIE_PASSWORD.",
			},
		},
	}
}

func (p *aerieProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	value := func(name string, v types.String, env string) string {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				"The Aerie provider's "+name+" must be known when the provider is configured.")
		}
		if v.ValueString() != "" {
			return v.ValueString()
		}
		return os.Getenv(env)
	}
	endpoint := value("endpoint", cfg.Endpoint, "AERIE_ENDPOINT")
	token := value("token", cfg.Token, "AERIE_TOKEN")
	username := value("username", cfg.Username, "AERIE_USERNAME")
	password := value("password", cfg.Password, "AERIE_PASSWORD")
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case endpoint == "":
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing endpoint",
			"Set endpoint in the provider block or AERIE_ENDPOINT, e.g. http://localhost:8080.")
	case token != "" && username != "":
		resp.Diagnostics.AddError("Conflicting credentials",
			"Give the Aerie provider either token (AERIE_TOKEN) or username and password (AERIE_USERNAME, AERIE_PASSWORD), not both.")
	case token == "" && (username == "" || password == ""):
		resp.Diagnostics.AddError("Missing credentials",
			"Give the Aerie provider token (AERIE_TOKEN), or username and password (AERIE_USERNAME, AERIE_PASSWORD).")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	client := NewClient(endpoint, token, username, password)
	resp.ResourceData = client
	resp.DataSourceData = client
}

func (p *aerieProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newTenantResource,
		newUserResource,
		newGroupResource,
		newRoleResource,
		newBindingResource,
		newServiceAccountResource,
		newFlowResource,
		newNamespaceSecretResource,
		newKVResource,
	}
}

func (p *aerieProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newTenantDataSource,
		newTenantsDataSource,
		newMeDataSource,
	}
}

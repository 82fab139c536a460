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
	for name, v := range map[string]types.String{"endpoint": cfg.Endpoint, "token": cfg.Token, "username": cfg.Username, "password": cfg.Password} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				"The Aerie provider's "+name+" must be known when the provider is configured.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := cfg.Endpoint.ValueString()
	if endpoint == "" {
		endpoint = os.Getenv("AERIE_ENDPOINT")
	}
	// Credentials come from the provider block when it gives any, else
	// from the environment: never half from each.
	token, username, password := cfg.Token.ValueString(), cfg.Username.ValueString(), cfg.Password.ValueString()
	if token == "" && username == "" && password == "" {
		token, username, password = os.Getenv("AERIE_TOKEN"), os.Getenv("AERIE_USERNAME"), os.Getenv("AERIE_PASSWORD")
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

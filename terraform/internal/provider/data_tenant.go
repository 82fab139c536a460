package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tenantDataSource struct{ dataWithClient }

func newTenantDataSource() datasource.DataSource { return &tenantDataSource{} }

type tenantDataModel struct {
	TenantID types.String `tfsdk:"tenant_id"`
	Name     types.String `tfsdk:"name"`
}

func (d *tenantDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (d *tenantDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "One tenant the caller can access (GET /api/v1/tenants/{id}); an unknown tenant, or one the caller cannot use, is an error.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": schema.StringAttribute{Required: true, Description: "Tenant id."},
			"name":      schema.StringAttribute{Computed: true, Description: "Display name."},
		},
	}
}

func (d *tenantDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t tenantJSON
	if err := d.client.JSON(ctx, http.MethodGet, "/api/v1/tenants/"+seg(m.TenantID.ValueString()), nil, &t); err != nil {
		resp.Diagnostics.AddError("Cannot read tenant", err.Error())
		return
	}
	m.Name = types.StringValue(t.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

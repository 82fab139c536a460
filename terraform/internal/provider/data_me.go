package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type meDataSource struct{ dataWithClient }

func newMeDataSource() datasource.DataSource { return &meDataSource{} }

type meDataModel struct {
	Username   types.String      `tfsdk:"username"`
	SuperAdmin types.Bool        `tfsdk:"super_admin"`
	Tenants    []tenantDataModel `tfsdk:"tenants"`
}

func (d *meDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_me"
}

func (d *meDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The caller: the provider's user or service account (GET /api/v1/me).",
		Attributes: map[string]schema.Attribute{
			"username":    schema.StringAttribute{Computed: true, Description: "Username (or service account name)."},
			"super_admin": schema.BoolAttribute{Computed: true, Description: "Whether the caller is a super admin."},
			"tenants":     tenantList("The tenants the caller can access (all of them for a super admin)."),
		},
	}
}

func (d *meDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	var me struct {
		Username   string       `json:"username"`
		SuperAdmin bool         `json:"superAdmin"`
		Tenants    []tenantJSON `json:"tenants"`
	}
	if err := d.client.JSON(ctx, http.MethodGet, "/api/v1/me", nil, &me); err != nil {
		resp.Diagnostics.AddError("Cannot read the caller", err.Error())
		return
	}
	m := meDataModel{
		Username:   types.StringValue(me.Username),
		SuperAdmin: types.BoolValue(me.SuperAdmin),
		Tenants:    []tenantDataModel{},
	}
	for _, t := range me.Tenants {
		m.Tenants = append(m.Tenants, tenantDataModel{TenantID: types.StringValue(t.ID), Name: types.StringValue(t.Name)})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

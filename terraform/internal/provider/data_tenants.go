package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tenantsDataSource struct{ dataWithClient }

func newTenantsDataSource() datasource.DataSource { return &tenantsDataSource{} }

type tenantsDataModel struct {
	Tenants []tenantDataModel `tfsdk:"tenants"`
}

// tenantList is the schema of a list of tenants ({tenant_id, name}).
func tenantList(description string) schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed:    true,
		Description: description,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"tenant_id": schema.StringAttribute{Computed: true, Description: "Tenant id."},
			"name":      schema.StringAttribute{Computed: true, Description: "Display name."},
		}},
	}
}

func (d *tenantsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenants"
}

func (d *tenantsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The live tenants the caller can access (all of them for a super admin), by id (GET /api/v1/tenants, every page).",
		Attributes: map[string]schema.Attribute{
			"tenants": tenantList("Tenants sorted by id."),
		},
	}
}

func (d *tenantsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	m := tenantsDataModel{Tenants: []tenantDataModel{}}
	for n := 1; ; n++ {
		var p page[tenantJSON]
		url := fmt.Sprintf("/api/v1/tenants?page=%d&size=1000&sort=id:asc", n)
		if err := d.client.JSON(ctx, http.MethodGet, url, nil, &p); err != nil {
			resp.Diagnostics.AddError("Cannot list tenants", err.Error())
			return
		}
		for _, t := range p.Results {
			m.Tenants = append(m.Tenants, tenantDataModel{TenantID: types.StringValue(t.ID), Name: types.StringValue(t.Name)})
		}
		if len(p.Results) == 0 || len(m.Tenants) >= p.Total {
			break
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

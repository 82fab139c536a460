package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tenantResource struct{ withClient }

func newTenantResource() resource.Resource { return &tenantResource{} }

type tenantModel struct {
	ID       types.String `tfsdk:"id"`
	TenantID types.String `tfsdk:"tenant_id"`
	Name     types.String `tfsdk:"name"`
}

// tenantJSON is the API's Tenant.
type tenantJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (r *tenantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A tenant (POST/GET/PUT/DELETE /api/v1/tenants). Needs a super admin or TENANT:CREATE in the default tenant. " +
			"Deleting is soft and Aerie never hands a deleted tenant's id out again.",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("the tenant id"),
			"tenant_id": schema.StringAttribute{
				Required:      true,
				Description:   "Tenant id, ^[a-z0-9][a-z0-9_-]{0,99}$ and not a reserved path segment. Changing it replaces the tenant.",
				PlanModifiers: replace,
			},
			"name": schema.StringAttribute{
				Required:    true,
				Description: "Display name, 1 to 200 characters; changed in place.",
			},
		},
	}
}

func (r *tenantResource) set(m *tenantModel, t tenantJSON) {
	m.ID = types.StringValue(t.ID)
	m.TenantID = types.StringValue(t.ID)
	m.Name = types.StringValue(t.Name)
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t tenantJSON
	body := tenantJSON{ID: m.TenantID.ValueString(), Name: m.Name.ValueString()}
	if err := r.client.JSON(ctx, http.MethodPost, "/api/v1/tenants", body, &t); err != nil {
		resp.Diagnostics.AddError("Cannot create tenant", err.Error())
		return
	}
	r.set(&m, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t tenantJSON
	err := r.client.JSON(ctx, http.MethodGet, "/api/v1/tenants/"+seg(m.TenantID.ValueString()), nil, &t)
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read tenant", err.Error())
		return
	}
	r.set(&m, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t tenantJSON
	body := map[string]string{"name": m.Name.ValueString()}
	if err := r.client.JSON(ctx, http.MethodPut, "/api/v1/tenants/"+seg(m.TenantID.ValueString()), body, &t); err != nil {
		resp.Diagnostics.AddError("Cannot update tenant", err.Error())
		return
	}
	r.set(&m, t)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, "/api/v1/tenants/"+seg(m.TenantID.ValueString()), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete tenant", err.Error())
	}
}

func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("tenant_id"), req, resp)
}

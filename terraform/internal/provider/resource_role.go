package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type roleResource struct{ withClient }

func newRoleResource() resource.Resource { return &roleResource{} }

type roleModel struct {
	ID          types.String `tfsdk:"id"`
	TenantID    types.String `tfsdk:"tenant_id"`
	Name        types.String `tfsdk:"name"`
	Permissions types.Set    `tfsdk:"permissions"`
}

type roleJSON struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

func (r *roleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

func (r *roleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A custom role of one tenant (/api/v1/{tenant}/roles). Aerie has no update of a role, so any change replaces it; " +
			"Aerie refuses to delete a role that bindings use, so give those bindings lifecycle { replace_triggered_by = [aerie_role.x] }.",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/name (an empty tenant for the default tenant: /name)"),
			"tenant_id": tenantAttribute(),
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "Role name (Admin is predefined and cannot be created).",
				PlanModifiers: replace,
			},
			"permissions": schema.SetAttribute{
				Required:      true,
				ElementType:   types.StringType,
				Description:   "PERMISSION:ACTION grants, e.g. FLOW:READ; permissions FLOW, EXECUTION, NAMESPACE, KVSTORE, SECRET, USER, GROUP, ROLE, BINDING, SERVICE_ACCOUNT, AUDITLOG, TENANT; actions CREATE, READ, UPDATE, DELETE.",
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *roleResource) set(ctx context.Context, m *roleModel, role roleJSON) {
	m.ID = types.StringValue(joinID(m.TenantID, role.Name))
	m.Name = types.StringValue(role.Name)
	m.Permissions, _ = types.SetValueFrom(ctx, types.StringType, role.Permissions)
}

func (r *roleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m roleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := roleJSON{Name: m.Name.ValueString()}
	resp.Diagnostics.Append(m.Permissions.ElementsAs(ctx, &body.Permissions, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var role roleJSON
	if err := r.client.JSON(ctx, http.MethodPost, tenantPath(m.TenantID.ValueString(), "/roles"), body, &role); err != nil {
		resp.Diagnostics.AddError("Cannot create role", err.Error())
		return
	}
	r.set(ctx, &m, role)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *roleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m roleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// No GET of one role: find it in the tenant's list.
	var roles page[roleJSON]
	err := r.client.JSON(ctx, http.MethodGet, tenantPath(m.TenantID.ValueString(), "/roles"), nil, &roles)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) { // the tenant is gone
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read roles", err.Error())
		return
	}
	for _, role := range roles.Results {
		if role.Name == m.Name.ValueString() {
			r.set(ctx, &m, role)
			resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
			return
		}
	}
	resp.State.RemoveResource(ctx)
}

func (r *roleResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Roles cannot be updated", "every attribute of aerie_role replaces it; this is a provider bug")
}

func (r *roleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m roleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, tenantPath(m.TenantID.ValueString(), "/roles/"+seg(m.Name.ValueString())), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete role", err.Error())
	}
}

func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/name", "name")
}

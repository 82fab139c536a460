package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tenantResource struct{ withClient }

func newTenantResource() resource.Resource { return &tenantResource{} }

var _ resource.ResourceWithModifyPlan = &tenantResource{}

// isDeletedTenant tells whether err is a create refused because the id
// belongs to a deleted tenant, which a restore brings back.
func isDeletedTenant(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict &&
		strings.Contains(apiErr.Message, "was deleted")
}

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
		Description: "A tenant (POST/GET/PUT/DELETE /api/v1/tenants). Needs a super admin or TENANT:CREATE in the default tenant; " +
			"a plan that would create one asks the API first (POST /api/v1/tenants?dryRun=true), so a caller who may not create it fails at plan time with the API's message. " +
			"Deleting is soft and Aerie never hands a deleted tenant's id to anyone new: a tenant deleted out of band is planned again and restored " +
			"(POST /api/v1/tenants/{id}/restore, super admin only) with the data its deletion kept, then given the configured name.",
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

// ModifyPlan asks the API whether a planned create can happen, so that a
// caller without TENANT:CREATE (or an id that is taken) fails the plan with
// the API's own message instead of the apply.
func (r *tenantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if !req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.TenantID.IsUnknown() || m.Name.IsUnknown() {
		return
	}
	body := tenantJSON{ID: m.TenantID.ValueString(), Name: m.Name.ValueString()}
	err := r.client.JSON(ctx, http.MethodPost, "/api/v1/tenants?dryRun=true", body, nil)
	switch {
	case err == nil:
	case isDeletedTenant(err):
		// Only a super admin may restore: anyone else fails here, at plan.
		var me struct {
			Username   string `json:"username"`
			SuperAdmin bool   `json:"superAdmin"`
		}
		if meErr := r.client.JSON(ctx, http.MethodGet, "/api/v1/me", nil, &me); meErr != nil {
			resp.Diagnostics.AddError("Cannot create tenant", meErr.Error())
			return
		}
		if !me.SuperAdmin {
			resp.Diagnostics.AddError("Cannot create tenant",
				err.Error()+"; restoring it needs a super admin: "+me.Username+" may not restore tenants")
			return
		}
		resp.Diagnostics.AddWarning("Tenant "+m.TenantID.ValueString()+" will be restored",
			"It was deleted outside OpenTofu. Aerie never gives a deleted tenant's id to anyone new, so the apply restores it "+
				"(a super admin may) with the data and bindings its deletion kept, and gives it the configured name.")
	default:
		resp.Diagnostics.AddError("Cannot create tenant", err.Error())
	}
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t tenantJSON
	body := tenantJSON{ID: m.TenantID.ValueString(), Name: m.Name.ValueString()}
	err := r.client.JSON(ctx, http.MethodPost, "/api/v1/tenants", body, &t)
	if isDeletedTenant(err) {
		// Deleted out of band: the same tenant comes back, then takes the
		// configured name.
		path := "/api/v1/tenants/" + seg(body.ID)
		err = r.client.JSON(ctx, http.MethodPost, path+"/restore", map[string]string{}, &t)
		if err == nil && t.Name != body.Name {
			err = r.client.JSON(ctx, http.MethodPut, path, map[string]string{"name": body.Name}, &t)
		}
	}
	if err != nil {
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

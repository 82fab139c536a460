package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type serviceAccountResource struct{ withClient }

func newServiceAccountResource() resource.Resource { return &serviceAccountResource{} }

type serviceAccountModel struct {
	ID         types.String `tfsdk:"id"`
	TenantID   types.String `tfsdk:"tenant_id"`
	Name       types.String `tfsdk:"name"`
	SuperAdmin types.Bool   `tfsdk:"super_admin"`
	TokenID    types.String `tfsdk:"token_id"`
	Token      types.String `tfsdk:"token"`
}

type serviceAccountJSON struct {
	Name       string `json:"name"`
	SuperAdmin bool   `json:"superAdmin"`
}

type apiTokenJSON struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
	Token   string `json:"token"`
}

// tokenName names the API token this resource makes.
const tokenName = "terraform"

func (r *serviceAccountResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_account"
}

func (r *serviceAccountResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A service account of one tenant (/api/v1/{tenant}/service-accounts) with one API token named \"terraform\", made with it. " +
			"Give it access with an aerie_binding of type SERVICE_ACCOUNT. Aerie has no update of a service account: a change of name or super_admin replaces it. " +
			"When the token is revoked or deleted outside OpenTofu, the next apply makes a new one; an imported service account gets its token at the next apply too.",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/name (an empty tenant for the default tenant: /name)"),
			"tenant_id": tenantAttribute(),
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "Name, 1 to 100 letters, digits and ._-.",
				PlanModifiers: replace,
			},
			"super_admin": schema.BoolAttribute{
				Optional:      true,
				Computed:      true,
				Default:       booldefault.StaticBool(false),
				Description:   "Instance-wide super admin flag (only a super admin may set it). Default false.",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"token_id": schema.StringAttribute{
				Computed:    true,
				Description: "Id of the API token made by this resource.",
			},
			"token": schema.StringAttribute{
				Computed:  true,
				Sensitive: true,
				Description: "The API token (aerie_...), to send as Authorization: Bearer. Aerie shows it once, at creation: " +
					"the state keeps it and reading cannot see it again.",
			},
		},
	}
}

// mintToken makes the account's API token and stores it in m.
func (r *serviceAccountResource) mintToken(ctx context.Context, m *serviceAccountModel) error {
	var t apiTokenJSON
	p := tenantPath(m.TenantID.ValueString(), "/service-accounts/"+seg(m.Name.ValueString())+"/tokens")
	if err := r.client.JSON(ctx, http.MethodPost, p, map[string]string{"name": tokenName}, &t); err != nil {
		return err
	}
	m.TokenID = types.StringValue(t.ID)
	m.Token = types.StringValue(t.Token)
	return nil
}

func (r *serviceAccountResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := serviceAccountJSON{Name: m.Name.ValueString(), SuperAdmin: m.SuperAdmin.ValueBool()}
	var sa serviceAccountJSON
	if err := r.client.JSON(ctx, http.MethodPost, tenantPath(m.TenantID.ValueString(), "/service-accounts"), body, &sa); err != nil {
		resp.Diagnostics.AddError("Cannot create service account", err.Error())
		return
	}
	m.ID = types.StringValue(joinID(m.TenantID, sa.Name))
	m.SuperAdmin = types.BoolValue(sa.SuperAdmin)
	m.TokenID, m.Token = types.StringNull(), types.StringNull()
	// Save the account before its token: should the token fail, the account
	// stays in the state and the next apply makes the token.
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	if err := r.mintToken(ctx, &m); err != nil {
		resp.Diagnostics.AddError("Cannot create the service account's API token", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *serviceAccountResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m serviceAccountModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// No GET of one service account: find it in the tenant's list.
	var accounts page[serviceAccountJSON]
	err := r.client.JSON(ctx, http.MethodGet, tenantPath(m.TenantID.ValueString(), "/service-accounts"), nil, &accounts)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) { // the tenant is gone
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read service accounts", err.Error())
		return
	}
	var found *serviceAccountJSON
	for _, sa := range accounts.Results {
		if sa.Name == m.Name.ValueString() {
			found = &sa
		}
	}
	if found == nil {
		resp.State.RemoveResource(ctx)
		return
	}
	m.ID = types.StringValue(joinID(m.TenantID, found.Name))
	m.SuperAdmin = types.BoolValue(found.SuperAdmin)

	// Is our token still there and not revoked? If not, forget it: ModifyPlan
	// then plans a new one.
	var tokens page[apiTokenJSON]
	p := tenantPath(m.TenantID.ValueString(), "/service-accounts/"+seg(found.Name)+"/tokens")
	if err := r.client.JSON(ctx, http.MethodGet, p, nil, &tokens); err != nil {
		resp.Diagnostics.AddError("Cannot read the service account's API tokens", err.Error())
		return
	}
	live := false
	for _, t := range tokens.Results {
		live = live || (t.ID == m.TokenID.ValueString() && !t.Revoked)
	}
	if !live {
		m.TokenID, m.Token = types.StringNull(), types.StringNull()
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// ModifyPlan plans a new token when the state has none (revoked, or imported).
func (r *serviceAccountResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var tokenID types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("token_id"), &tokenID)...)
	if tokenID.IsNull() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("token_id"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("token"), types.StringUnknown())...)
	}
}

// Update happens only to make a new token: every other change replaces.
func (r *serviceAccountResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, old serviceAccountModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &old)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.TokenID, m.Token = old.TokenID, old.Token
	if old.TokenID.IsNull() {
		if err := r.mintToken(ctx, &m); err != nil {
			resp.Diagnostics.AddError("Cannot create the service account's API token", err.Error())
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *serviceAccountResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m serviceAccountModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, tenantPath(m.TenantID.ValueString(), "/service-accounts/"+seg(m.Name.ValueString())), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete service account", err.Error())
	}
}

func (r *serviceAccountResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/name", "name")
}

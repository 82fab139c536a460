package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type bindingResource struct{ withClient }

func newBindingResource() resource.Resource { return &bindingResource{} }

type bindingModel struct {
	ID        types.String `tfsdk:"id"`
	TenantID  types.String `tfsdk:"tenant_id"`
	BindingID types.String `tfsdk:"binding_id"`
	Type      types.String `tfsdk:"type"`
	Subject   types.String `tfsdk:"subject"`
	Role      types.String `tfsdk:"role"`
	Namespace types.String `tfsdk:"namespace"`
}

type bindingJSON struct {
	ID        string  `json:"id,omitempty"`
	Type      string  `json:"type"`
	Subject   string  `json:"subject"`
	Role      string  `json:"role"`
	Namespace *string `json:"namespace"`
}

func (r *bindingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_binding"
}

func (r *bindingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A binding of a role to a user, group or service account in one tenant (/api/v1/{tenant}/bindings), optionally limited to a namespace and its children. " +
			"Aerie has no update of a binding, so any change replaces it. Creating a binding that already exists adopts it (Aerie answers the existing one).",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/binding_id (an empty tenant for the default tenant: /binding_id)"),
			"tenant_id": tenantAttribute(),
			"binding_id": schema.StringAttribute{
				Computed:      true,
				Description:   "Aerie's id of the binding (a UUID).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"type": schema.StringAttribute{
				Required:      true,
				Description:   "USER, GROUP or SERVICE_ACCOUNT.",
				PlanModifiers: replace,
			},
			"subject": schema.StringAttribute{
				Required:      true,
				Description:   "Username, group name or service account name.",
				PlanModifiers: replace,
			},
			"role": schema.StringAttribute{
				Required:      true,
				Description:   "Role name: Admin or a custom role of the tenant.",
				PlanModifiers: replace,
			},
			"namespace": schema.StringAttribute{
				Optional:      true,
				Description:   "Limits the binding to this namespace and its children; absent: the whole tenant.",
				PlanModifiers: replace,
			},
		},
	}
}

func (r *bindingResource) set(m *bindingModel, b bindingJSON) {
	m.ID = types.StringValue(joinID(m.TenantID, b.ID))
	m.BindingID = types.StringValue(b.ID)
	m.Type = types.StringValue(b.Type)
	m.Subject = types.StringValue(b.Subject)
	m.Role = types.StringValue(b.Role)
	m.Namespace = types.StringPointerValue(b.Namespace)
}

func (r *bindingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m bindingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := bindingJSON{
		Type:      m.Type.ValueString(),
		Subject:   m.Subject.ValueString(),
		Role:      m.Role.ValueString(),
		Namespace: m.Namespace.ValueStringPointer(),
	}
	var b bindingJSON
	if err := r.client.JSON(ctx, http.MethodPost, tenantPath(m.TenantID.ValueString(), "/bindings"), body, &b); err != nil {
		resp.Diagnostics.AddError("Cannot create binding", err.Error())
		return
	}
	r.set(&m, b)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *bindingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m bindingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// No GET of one binding: find it in the tenant's list.
	var bindings page[bindingJSON]
	err := r.client.JSON(ctx, http.MethodGet, tenantPath(m.TenantID.ValueString(), "/bindings"), nil, &bindings)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) { // the tenant is gone
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read bindings", err.Error())
		return
	}
	for _, b := range bindings.Results {
		if b.ID == m.BindingID.ValueString() {
			r.set(&m, b)
			resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
			return
		}
	}
	resp.State.RemoveResource(ctx)
}

func (r *bindingResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Bindings cannot be updated", "every attribute of aerie_binding replaces it; this is a provider bug")
}

func (r *bindingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m bindingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, tenantPath(m.TenantID.ValueString(), "/bindings/"+seg(m.BindingID.ValueString())), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete binding", err.Error())
	}
}

func (r *bindingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/binding_id", "binding_id")
}

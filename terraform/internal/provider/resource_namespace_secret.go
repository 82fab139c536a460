package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type namespaceSecretResource struct{ withClient }

func newNamespaceSecretResource() resource.Resource { return &namespaceSecretResource{} }

var _ resource.ResourceWithModifyPlan = &namespaceSecretResource{}

// notWritten is the state's `updated` when the value in Aerie is not the
// configured one (written out of band, or never written since an import):
// the next plan writes it again.
const notWritten = "not written by OpenTofu"

type namespaceSecretModel struct {
	ID           types.String `tfsdk:"id"`
	TenantID     types.String `tfsdk:"tenant_id"`
	Namespace    types.String `tfsdk:"namespace"`
	Key          types.String `tfsdk:"key"`
	Value        types.String `tfsdk:"value"`
	ValueVersion types.String `tfsdk:"value_version"`
	Updated      types.String `tfsdk:"updated"`
}

type secretKeyJSON struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Updated   string `json:"updated"`
}

func (r *namespaceSecretResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_namespace_secret"
}

func (r *namespaceSecretResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A secret of a namespace in one tenant (PUT /api/v1/{tenant}/namespaces/{namespace}/secrets/{key}), read by flows with secret('KEY'). " +
			"Aerie never returns a secret's value.",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/namespace/key (an empty tenant for the default tenant: /namespace/key)"),
			"tenant_id": tenantAttribute(),
			"namespace": schema.StringAttribute{
				Required:      true,
				Description:   "Namespace; flows of it and of its children read the secret. Changing it replaces the secret.",
				PlanModifiers: replace,
			},
			"key": schema.StringAttribute{
				Required:      true,
				Description:   "Secret key. Changing it replaces the secret.",
				PlanModifiers: replace,
			},
			"value": schema.StringAttribute{
				Required:  true,
				Sensitive: true,
				WriteOnly: true,
				Description: "Value, 1 byte to 64 KiB. Write-only, as in Aerie (no API returns it): it is never stored in the state or the plan " +
					"(OpenTofu 1.11+ or Terraform 1.11+). Change value_version to write a new value. A change made outside OpenTofu is seen by " +
					"its update time and written over at the next apply; after an import the next apply writes the value.",
			},
			"value_version": schema.StringAttribute{
				Optional:    true,
				Description: "Any text; changing it writes the current value (the value itself is not in the state to compare).",
			},
			"updated": schema.StringAttribute{
				Computed:    true,
				Description: "When the value was last written (RFC 3339).",
			},
		},
	}
}

func (r *namespaceSecretResource) base(m *namespaceSecretModel) string {
	return tenantPath(m.TenantID.ValueString(), "/namespaces/"+seg(m.Namespace.ValueString())+"/secrets")
}

// put writes value and stores the secret as the API answers it (the
// value itself stays out of the model, so out of the state).
func (r *namespaceSecretResource) put(ctx context.Context, m *namespaceSecretModel, value string) error {
	var s secretKeyJSON
	body := map[string]string{"value": value}
	if err := r.client.JSON(ctx, http.MethodPut, r.base(m)+"/"+seg(m.Key.ValueString()), body, &s); err != nil {
		return err
	}
	m.ID = types.StringValue(joinID(m.TenantID, s.Namespace, s.Key))
	m.Value = types.StringNull()
	m.Updated = types.StringValue(s.Updated)
	return nil
}

// configuredValue is the write-only value, which only the configuration
// holds.
func configuredValue(ctx context.Context, config interface {
	GetAttribute(context.Context, path.Path, any) diag.Diagnostics
}, diags *diag.Diagnostics) string {
	var value types.String
	diags.Append(config.GetAttribute(ctx, path.Root("value"), &value)...)
	return value.ValueString()
}

// ModifyPlan plans a write when the value in Aerie is not the configured
// one (see notWritten): the value is not in the state to compare.
func (r *namespaceSecretResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var updated types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("updated"), &updated)...)
	if updated.ValueString() == notWritten {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("updated"), types.StringUnknown())...)
	}
}

func (r *namespaceSecretResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m namespaceSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	value := configuredValue(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &m, value); err != nil {
		resp.Diagnostics.AddError("Cannot write secret", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *namespaceSecretResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m namespaceSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Keys only, never values: find the key in the namespace's list.
	var keys page[secretKeyJSON]
	err := r.client.JSON(ctx, http.MethodGet, r.base(&m), nil, &keys)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) { // the tenant is gone
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read secrets", err.Error())
		return
	}
	for _, s := range keys.Results {
		if s.Key != m.Key.ValueString() {
			continue
		}
		m.ID = types.StringValue(joinID(m.TenantID, s.Namespace, s.Key))
		if m.Updated.IsNull() || m.Updated.ValueString() != s.Updated {
			// Imported, or written by someone else: the value in Aerie may
			// not be the configured one, so plan to write it again.
			m.Updated = types.StringValue(notWritten)
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
		return
	}
	resp.State.RemoveResource(ctx)
}

func (r *namespaceSecretResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m namespaceSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	value := configuredValue(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &m, value); err != nil {
		resp.Diagnostics.AddError("Cannot write secret", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *namespaceSecretResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m namespaceSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, r.base(&m)+"/"+seg(m.Key.ValueString()), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete secret", err.Error())
	}
}

func (r *namespaceSecretResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/namespace/key", "namespace", "key")
}

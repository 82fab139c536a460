package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type flowResource struct{ withClient }

func newFlowResource() resource.Resource { return &flowResource{} }

type flowModel struct {
	ID        types.String `tfsdk:"id"`
	TenantID  types.String `tfsdk:"tenant_id"`
	Namespace types.String `tfsdk:"namespace"`
	FlowID    types.String `tfsdk:"flow_id"`
	Content   types.String `tfsdk:"content"`
	Revision  types.Int64  `tfsdk:"revision"`
}

type flowJSON struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Revision  int64  `json:"revision"`
	Source    string `json:"source"`
}

type validationJSON struct {
	Valid       bool    `json:"valid"`
	Constraints *string `json:"constraints"`
	ID          *string `json:"id"`
	Namespace   *string `json:"namespace"`
}

func (r *flowResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_flow"
}

func (r *flowResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A flow of one tenant (/api/v1/{tenant}/flows), as Kestra YAML. namespace and flow_id must be the ones the YAML names " +
			"(checked before creating; Aerie refuses an update that changes them). Each change of content is a new revision; deleting is soft.",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/namespace/flow_id (an empty tenant for the default tenant: /namespace/flow_id)"),
			"tenant_id": tenantAttribute(),
			"namespace": schema.StringAttribute{
				Required:      true,
				Description:   "The flow's namespace, as in content. Changing it replaces the flow.",
				PlanModifiers: replace,
			},
			"flow_id": schema.StringAttribute{
				Required:      true,
				Description:   "The flow's id, as in content. Changing it replaces the flow.",
				PlanModifiers: replace,
			},
			"content": schema.StringAttribute{
				Required:    true,
				Description: "The flow's YAML source; Aerie keeps it byte for byte, so a change made elsewhere shows as a difference. Changed in place (a new revision).",
			},
			"revision": schema.Int64Attribute{
				Computed:    true,
				Description: "The flow's current revision.",
			},
		},
	}
}

func (r *flowResource) path(m *flowModel) string {
	return tenantPath(m.TenantID.ValueString(), "/flows/"+seg(m.Namespace.ValueString())+"/"+seg(m.FlowID.ValueString()))
}

func (r *flowResource) set(m *flowModel, f flowJSON) {
	m.ID = types.StringValue(joinID(m.TenantID, f.Namespace, f.ID))
	m.Namespace = types.StringValue(f.Namespace)
	m.FlowID = types.StringValue(f.ID)
	m.Content = types.StringValue(f.Source)
	m.Revision = types.Int64Value(f.Revision)
}

// yaml sends content as a flow source.
func (r *flowResource) yaml(ctx context.Context, method, path, content string, out any) error {
	return r.client.do(ctx, request{method: method, path: path, contentType: "application/x-yaml", body: []byte(content)}, out)
}

func (r *flowResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m flowModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	// POST takes namespace and id from the YAML: check they are the
	// configured ones before anything is saved.
	var checks []validationJSON
	if err := r.yaml(ctx, http.MethodPost, tenantPath(tenant, "/flows/validate"), m.Content.ValueString(), &checks); err != nil {
		resp.Diagnostics.AddError("Cannot validate flow", err.Error())
		return
	}
	if len(checks) != 1 {
		resp.Diagnostics.AddError("Invalid flow", fmt.Sprintf("content must hold exactly one flow, it holds %d", len(checks)))
		return
	}
	c := checks[0]
	if !c.Valid && c.Constraints != nil {
		resp.Diagnostics.AddError("Invalid flow", *c.Constraints)
		return
	}
	if c.ID == nil || c.Namespace == nil || *c.ID != m.FlowID.ValueString() || *c.Namespace != m.Namespace.ValueString() {
		resp.Diagnostics.AddError("Flow content does not match namespace and flow_id",
			fmt.Sprintf("content names flow %s.%s, but namespace and flow_id say %s.%s",
				deref(c.Namespace), deref(c.ID), m.Namespace.ValueString(), m.FlowID.ValueString()))
		return
	}
	var f flowJSON
	if err := r.yaml(ctx, http.MethodPost, tenantPath(tenant, "/flows"), m.Content.ValueString(), &f); err != nil {
		resp.Diagnostics.AddError("Cannot create flow", err.Error())
		return
	}
	r.set(&m, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *flowResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m flowModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var f flowJSON
	err := r.client.JSON(ctx, http.MethodGet, r.path(&m), nil, &f)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read flow", err.Error())
		return
	}
	r.set(&m, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *flowResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m flowModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var f flowJSON
	if err := r.yaml(ctx, http.MethodPut, r.path(&m), m.Content.ValueString(), &f); err != nil {
		resp.Diagnostics.AddError("Cannot update flow", err.Error())
		return
	}
	r.set(&m, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *flowResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m flowModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.JSON(ctx, http.MethodDelete, r.path(&m), nil, nil); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete flow", err.Error())
	}
}

func (r *flowResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/namespace/flow_id", "namespace", "flow_id")
}

func deref(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type kvResource struct{ withClient }

func newKVResource() resource.Resource { return &kvResource{} }

type kvModel struct {
	ID             types.String `tfsdk:"id"`
	TenantID       types.String `tfsdk:"tenant_id"`
	Namespace      types.String `tfsdk:"namespace"`
	Key            types.String `tfsdk:"key"`
	Value          types.String `tfsdk:"value"`
	Type           types.String `tfsdk:"type"`
	TTL            types.String `tfsdk:"ttl"`
	ExpirationDate types.String `tfsdk:"expiration_date"`
}

type kvJSON struct {
	Namespace      string  `json:"namespace"`
	Key            string  `json:"key"`
	Type           string  `json:"type"`
	Value          any     `json:"value"`
	ExpirationDate *string `json:"expirationDate"`
}

func (r *kvResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kv"
}

func (r *kvResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A KV entry of a namespace in one tenant (/api/v1/{tenant}/namespaces/{namespace}/kv/{key}), read by flows with kv('KEY').",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/namespace/key (an empty tenant for the default tenant: /namespace/key)"),
			"tenant_id": tenantAttribute(),
			"namespace": schema.StringAttribute{
				Required:      true,
				Description:   "Namespace. Changing it replaces the entry.",
				PlanModifiers: replace,
			},
			"key": schema.StringAttribute{
				Required:      true,
				Description:   "Key, ^[a-zA-Z0-9][a-zA-Z0-9._-]*, 1 to 255 characters. Changing it replaces the entry.",
				PlanModifiers: replace,
			},
			"value": schema.StringAttribute{
				Required: true,
				Description: "The value as Aerie takes it: JSON is typed (42 is a NUMBER, true a BOOLEAN, {\"a\":1} JSON, \"2026-01-01T00:00:00Z\" a DATETIME), " +
					"other text is a STRING (jsonencode() gives JSON). Changed in place; a value changed elsewhere shows as a difference.",
			},
			"type": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Description: "STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON: forces the type (sent as the kv-type header); " +
					"absent: Aerie's choice, read back here.",
			},
			"ttl": schema.StringAttribute{
				Optional: true,
				Description: "Time to live, an ISO-8601 duration such as PT1H or P7D, counted from each write (sent as the ttl header; " +
					"Aerie keeps only expiration_date, so the state keeps the configured value and an imported entry with a ttl is written again at the next apply). " +
					"An expired entry is written again at the next apply.",
			},
			"expiration_date": schema.StringAttribute{
				Computed:    true,
				Description: "When the entry expires (RFC 3339); null: never.",
			},
		},
	}
}

func (r *kvResource) path(m *kvModel) string {
	return tenantPath(m.TenantID.ValueString(), "/namespaces/"+seg(m.Namespace.ValueString())+"/kv/"+seg(m.Key.ValueString()))
}

// set stores the entry as read. The configured value text stays when it
// means the value Aerie holds (42 and 42.0, spaces in JSON, "quoted"); else
// Aerie's value replaces it, and the plan shows the difference.
func (r *kvResource) set(m *kvModel, e kvJSON) {
	m.ID = types.StringValue(joinID(m.TenantID, e.Namespace, e.Key))
	m.Type = types.StringValue(e.Type)
	m.ExpirationDate = types.StringPointerValue(e.ExpirationDate)
	if m.Value.IsNull() || !sameKV(m.Value.ValueString(), e.Value) {
		m.Value = types.StringValue(kvText(e.Value))
	}
}

// sameKV tells whether text, sent as a KV value, gives the value v.
func sameKV(text string, v any) bool {
	if s, ok := v.(string); ok && s == text {
		return true
	}
	var parsed any
	return json.Unmarshal([]byte(text), &parsed) == nil && reflect.DeepEqual(parsed, v)
}

// kvText is text that gives the value v again.
func kvText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (r *kvResource) put(ctx context.Context, m *kvModel) error {
	headers := map[string]string{}
	if !m.Type.IsUnknown() && !m.Type.IsNull() {
		headers["kv-type"] = m.Type.ValueString()
	}
	if !m.TTL.IsNull() {
		headers["ttl"] = m.TTL.ValueString()
	}
	var e kvJSON
	req := request{method: http.MethodPut, path: r.path(m), contentType: "text/plain", headers: headers, body: []byte(m.Value.ValueString())}
	if err := r.client.do(ctx, req, &e); err != nil {
		return err
	}
	r.set(m, e)
	return nil
}

// ModifyPlan: an entry written without ttl never expires, and one that Aerie
// says expires (given a ttl elsewhere) is written again.
func (r *kvResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var ttl types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("ttl"), &ttl)...)
	if ttl.IsNull() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("expiration_date"), types.StringNull())...)
	}
}

func (r *kvResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m kvModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &m); err != nil {
		resp.Diagnostics.AddError("Cannot write KV entry", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *kvResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m kvModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var e kvJSON
	err := r.client.JSON(ctx, http.MethodGet, r.path(&m), nil, &e)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if isNotFound(err) { // gone, expired, or its tenant is gone
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read KV entry", err.Error())
		return
	}
	r.set(&m, e)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *kvResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m kvModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.put(ctx, &m); err != nil {
		resp.Diagnostics.AddError("Cannot write KV entry", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *kvResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m kvModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.JSON(ctx, http.MethodDelete, r.path(&m), nil, nil); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete KV entry", err.Error())
	}
}

func (r *kvResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/namespace/key", "namespace", "key")
}

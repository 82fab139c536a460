package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// withClient gives a resource or data source the provider's client.
type withClient struct{ client *Client }

func (w *withClient) configure(data any, diags *diag.Diagnostics) {
	if data == nil {
		return // the provider is not configured yet (validation)
	}
	c, ok := data.(*Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *Client, got %T", data))
		return
	}
	w.client = c
}

func (w *withClient) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	w.configure(req.ProviderData, &resp.Diagnostics)
}

// dataWithClient is withClient for data sources.
type dataWithClient struct{ withClient }

func (w *dataWithClient) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	w.configure(req.ProviderData, &resp.Diagnostics)
}

// replace is the plan modifier of an attribute the API cannot change in place.
var replace = []planmodifier.String{stringplanmodifier.RequiresReplace()}

func idAttribute(format string) schema.StringAttribute {
	return schema.StringAttribute{
		Computed:      true,
		Description:   "Identifier, also the import id: " + format + ".",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

func tenantAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Optional:      true,
		Description:   "Tenant it lives in; absent: the default tenant (/api/v1/... without a tenant segment). Changing it replaces the resource.",
		PlanModifiers: replace,
	}
}

// joinID is the import id of a tenant-scoped resource: the tenant (empty for
// the default tenant), then the other parts, separated by slashes.
func joinID(tenant types.String, parts ...string) string {
	return strings.Join(append([]string{tenant.ValueString()}, parts...), "/")
}

// splitID reads an import id of joinID's form, one part after the tenant for
// each of attrs, and sets tenant_id and attrs from it.
func splitID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, format string, attrs ...string) {
	parts := strings.Split(req.ID, "/")
	if len(parts) != len(attrs)+1 {
		resp.Diagnostics.AddError("Bad import id", fmt.Sprintf("expected %s (an empty tenant for the default tenant), got %q", format, req.ID))
		return
	}
	for i, p := range parts[1:] {
		if p == "" {
			resp.Diagnostics.AddError("Bad import id", fmt.Sprintf("expected %s, got %q with an empty %s", format, req.ID, attrs[i]))
			return
		}
	}
	tenant := types.StringNull()
	if parts[0] != "" {
		tenant = types.StringValue(parts[0])
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant_id"), tenant)...)
	for i, name := range attrs {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(name), parts[i+1])...)
	}
}

// page is the API's {"results", "total"} list.
type page[T any] struct {
	Results []T `json:"results"`
	Total   int `json:"total"`
}

// keptWhileTenantDeleted is what a tenant-scoped resource's Read does when
// its tenant answers 404: the resource stays in the state as it was, since
// a deleted tenant keeps its data and the tenant's own resource restores it
// (with everything in it) at the next apply. Removing it would plan a
// create that Aerie refuses once the tenant is back ("already exists").
func keptWhileTenantDeleted(diags *diag.Diagnostics, tenant string) {
	diags.AddWarning("Tenant "+tenant+" is deleted",
		"Kept in the state as it was: a deleted tenant keeps its data, and restoring the tenant (aerie_tenant does at the next apply) brings this back.")
}

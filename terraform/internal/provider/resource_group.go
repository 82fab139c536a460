package provider

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type groupResource struct{ withClient }

func newGroupResource() resource.Resource { return &groupResource{} }

type groupModel struct {
	ID       types.String `tfsdk:"id"`
	TenantID types.String `tfsdk:"tenant_id"`
	Name     types.String `tfsdk:"name"`
	Members  types.Set    `tfsdk:"members"`
}

type groupJSON struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

func (r *groupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_group"
}

func (r *groupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A group of users in one tenant (/api/v1/{tenant}/groups); bindings of type GROUP apply to every member. Deleting it deletes its bindings.",
		Attributes: map[string]schema.Attribute{
			"id":        idAttribute("tenant/name (an empty tenant for the default tenant: /name)"),
			"tenant_id": tenantAttribute(),
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "Group name, 1 to 100 letters, digits and ._-. Aerie cannot rename a group: changing it replaces the group.",
				PlanModifiers: replace,
			},
			"members": schema.SetAttribute{
				Optional:    true,
				Computed:    true,
				ElementType: types.StringType,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				Description: "Usernames of the members, managed authoritatively (members added elsewhere are removed); changed in place. Default: none.",
			},
		},
	}
}

// find reads the group named in m from the tenant's list (there is no GET of
// one group); nil when it is gone.
func (r *groupResource) find(ctx context.Context, m *groupModel) (*groupJSON, error) {
	var groups page[groupJSON]
	err := r.client.JSON(ctx, http.MethodGet, tenantPath(m.TenantID.ValueString(), "/groups"), nil, &groups)
	if isNotFound(err) && !isTenantDeleted(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, g := range groups.Results {
		if g.Name == m.Name.ValueString() {
			return &g, nil
		}
	}
	return nil, nil
}

func (r *groupResource) set(ctx context.Context, m *groupModel, g groupJSON) {
	m.ID = types.StringValue(joinID(m.TenantID, g.Name))
	m.Members, _ = types.SetValueFrom(ctx, types.StringType, append([]string{}, g.Members...)) // never null
}

// sync adds and removes members so that the group has exactly want.
func (r *groupResource) sync(ctx context.Context, m *groupModel, have []string) error {
	var want []string
	m.Members.ElementsAs(ctx, &want, false)
	base := tenantPath(m.TenantID.ValueString(), "/groups/"+seg(m.Name.ValueString())+"/members")
	for _, u := range want {
		if !slices.Contains(have, u) {
			if err := r.client.JSON(ctx, http.MethodPost, base, map[string]string{"username": u}, nil); err != nil {
				return err
			}
		}
	}
	for _, u := range have {
		if !slices.Contains(want, u) {
			if err := r.client.JSON(ctx, http.MethodDelete, base+"/"+seg(u), nil, nil); err != nil && !isNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// syncAndSet makes the group's members those of m (the group now has
// have), then stores the group as the API answers it.
func (r *groupResource) syncAndSet(ctx context.Context, m *groupModel, have []string, state *tfsdk.State, diags *diag.Diagnostics) {
	if err := r.sync(ctx, m, have); err != nil {
		diags.AddError("Cannot change group members", err.Error())
		return
	}
	g, err := r.find(ctx, m)
	if err == nil && g == nil {
		err = fmt.Errorf("group %q is gone", m.Name.ValueString())
	}
	if err != nil {
		diags.AddError("Cannot read group", err.Error())
		return
	}
	r.set(ctx, m, *g)
	diags.Append(state.Set(ctx, m)...)
}

func (r *groupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var g groupJSON
	body := map[string]string{"name": m.Name.ValueString()}
	if err := r.client.JSON(ctx, http.MethodPost, tenantPath(m.TenantID.ValueString(), "/groups"), body, &g); err != nil {
		resp.Diagnostics.AddError("Cannot create group", err.Error())
		return
	}
	// Save the group before its members: should one fail, the group stays
	// in the state.
	planned := m.Members
	r.set(ctx, &m, g)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	m.Members = planned
	r.syncAndSet(ctx, &m, g.Members, &resp.State, &resp.Diagnostics)
}

func (r *groupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	g, err := r.find(ctx, &m)
	if isTenantDeleted(err) {
		keptWhileTenantDeleted(&resp.Diagnostics, m.TenantID.ValueString())
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read group", err.Error())
		return
	}
	if g == nil {
		resp.State.RemoveResource(ctx)
		return
	}
	r.set(ctx, &m, *g)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *groupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, old groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &old)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var have []string
	resp.Diagnostics.Append(old.Members.ElementsAs(ctx, &have, false)...)
	r.syncAndSet(ctx, &m, have, &resp.State, &resp.Diagnostics)
}

func (r *groupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, tenantPath(m.TenantID.ValueString(), "/groups/"+seg(m.Name.ValueString())), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete group", err.Error())
	}
}

func (r *groupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	splitID(ctx, req, resp, "tenant/name", "name")
}

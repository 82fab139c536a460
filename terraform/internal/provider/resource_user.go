package provider

import (
	"context"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type userResource struct{ withClient }

func newUserResource() resource.Resource { return &userResource{} }

type userModel struct {
	ID         types.String `tfsdk:"id"`
	Username   types.String `tfsdk:"username"`
	Password   types.String `tfsdk:"password"`
	SuperAdmin types.Bool   `tfsdk:"super_admin"`
}

type userJSON struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	SuperAdmin bool   `json:"superAdmin"`
}

func (r *userResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_user"
}

func (r *userResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An instance-wide user (/api/v1/users); only a super admin manages users. " +
			"Give it access to a tenant with aerie_binding.",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("the user's id (a UUID); import also takes the username"),
			"username": schema.StringAttribute{
				Required:      true,
				Description:   "Login name. Aerie cannot rename a user: changing it replaces the user.",
				PlanModifiers: replace,
			},
			"password": schema.StringAttribute{
				Required:  true,
				Sensitive: true,
				Description: "Password, 8 to 256 characters. Aerie never returns it: the state keeps the configured value, " +
					"so a change made outside OpenTofu is not seen; changing it here sets it in place. After an import the next apply sets it.",
			},
			"super_admin": schema.BoolAttribute{
				Optional:    true,
				Computed:    true,
				Default:     booldefault.StaticBool(false),
				Description: "Instance-wide super admin flag; changed in place. Default false.",
			},
		},
	}
}

func (r *userResource) set(m *userModel, u userJSON) {
	m.ID = types.StringValue(u.ID)
	m.Username = types.StringValue(u.Username)
	m.SuperAdmin = types.BoolValue(u.SuperAdmin)
}

func (r *userResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m userModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := map[string]any{
		"username":   m.Username.ValueString(),
		"password":   m.Password.ValueString(),
		"superAdmin": m.SuperAdmin.ValueBool(),
	}
	var u userJSON
	if err := r.client.JSON(ctx, http.MethodPost, "/api/v1/users", body, &u); err != nil {
		resp.Diagnostics.AddError("Cannot create user", err.Error())
		return
	}
	r.set(&m, u)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *userResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m userModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var u userJSON
	err := r.client.JSON(ctx, http.MethodGet, "/api/v1/users/"+seg(m.ID.ValueString()), nil, &u)
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read user", err.Error())
		return
	}
	r.set(&m, u)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *userResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, old userModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &old)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := map[string]any{"superAdmin": m.SuperAdmin.ValueBool()}
	if !m.Password.Equal(old.Password) {
		body["password"] = m.Password.ValueString()
	}
	var u userJSON
	if err := r.client.JSON(ctx, http.MethodPut, "/api/v1/users/"+seg(old.ID.ValueString()), body, &u); err != nil {
		resp.Diagnostics.AddError("Cannot update user", err.Error())
		return
	}
	r.set(&m, u)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *userResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m userModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.JSON(ctx, http.MethodDelete, "/api/v1/users/"+seg(m.ID.ValueString()), nil, nil)
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete user", err.Error())
	}
}

func (r *userResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

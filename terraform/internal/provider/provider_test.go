package provider

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestSameKV(t *testing.T) {
	for _, c := range []struct {
		text   string
		stored string // the value as the API answers it, in JSON
		same   bool
	}{
		{"42", `42`, true},
		{"1.50", `1.5`, true},
		{"42", `"42"`, true}, // kv-type STRING
		{"hello world", `"hello world"`, true},
		{`"quoted"`, `"quoted"`, true},
		{`{"a": 1, "b": [1, 2]}`, `{"b":[1,2],"a":1}`, true},
		{"true", `true`, true},
		{"42", `43`, false},
		{"hello", `"hullo"`, false},
		{`{"a": 1}`, `{"a":2}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.stored), &v); err != nil {
			t.Fatal(err)
		}
		if got := sameKV(c.text, v); got != c.same {
			t.Errorf("sameKV(%q, %s) = %v, want %v", c.text, c.stored, got, c.same)
		}
		if !sameKV(kvText(v), v) {
			t.Errorf("kvText(%s) = %q does not give the value again", c.stored, kvText(v))
		}
	}
}

func TestPathsAndIDs(t *testing.T) {
	if got := tenantPath("", "/roles"); got != "/api/v1/roles" {
		t.Errorf("default tenant: %s", got)
	}
	if got := tenantPath("prod", "/flows/"+seg("a b")); got != "/api/v1/prod/flows/a%20b" {
		t.Errorf("named tenant: %s", got)
	}
	if got := joinID(types.StringNull(), "company", "hello"); got != "/company/hello" {
		t.Errorf("default tenant id: %s", got)
	}
	if got := joinID(types.StringValue("prod"), "viewer"); got != "prod/viewer" {
		t.Errorf("named tenant id: %s", got)
	}
}

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A session token that expires is renewed by logging in again, once.
func TestClientLogsInAgainAfter401(t *testing.T) {
	var logins, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/auths/token":
			n := logins.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]string{"access_token": fmt.Sprintf("t%d", n)})
		case "/api/v1/me":
			calls.Add(1)
			if r.Header.Get("Authorization") != "Bearer t2" { // the first session has expired
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"message":"token expired"}`))
				return
			}
			_, _ = w.Write([]byte(`{"username":"admin"}`))
		}
	}))
	defer srv.Close()

	c := NewClient(srv.URL+"/", "", "admin", "pw")
	var me struct{ Username string }
	if err := c.JSON(context.Background(), http.MethodGet, "/api/v1/me", nil, &me); err != nil {
		t.Fatal(err)
	}
	if me.Username != "admin" || logins.Load() != 2 || calls.Load() != 2 {
		t.Fatalf("username %q after %d logins and %d calls", me.Username, logins.Load(), calls.Load())
	}
}

// A configured token is never replaced: a 401 is the caller's error.
func TestClientReportsTheAPIMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"bob may not CREATE TENANT in the default tenant"}`))
	}))
	defer srv.Close()

	err := NewClient(srv.URL, "tok", "", "").JSON(context.Background(), http.MethodPost, "/api/v1/tenants", map[string]string{"id": "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "bob may not CREATE TENANT in the default tenant (403 from POST /api/v1/tenants)") {
		t.Fatalf("got %v", err)
	}
	if isNotFound(err) {
		t.Fatal("a 403 is not a 404")
	}
}

// 429 is retried after Retry-After.
func TestClientRetriesTooManyRequests(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	if err := NewClient(srv.URL, "tok", "", "").JSON(context.Background(), http.MethodDelete, "/x", nil, nil); err != nil || calls.Load() != 2 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
}

func TestTenantDeletedIsNotTheResourcesOwn404(t *testing.T) {
	tenantGone := &APIError{Status: 404, Message: "tenant 'beta' not found"}
	flowGone := &APIError{Status: 404, Message: "flow company.team.hello not found"}
	if !isTenantDeleted(tenantGone) || isTenantDeleted(flowGone) {
		t.Fatal("only the tenant's own 404 keeps a resource in the state")
	}
	if !isNotFound(flowGone) {
		t.Fatal("a resource's 404 is still not found")
	}
}

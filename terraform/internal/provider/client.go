package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client calls Aerie's REST API with a bearer token: the one configured, or
// one obtained by logging in with a username and password (again when it
// expires).
type Client struct {
	endpoint string
	http     *http.Client
	username string
	password string

	mu    sync.Mutex
	token string
}

// APIError is an answer of the API with a 4xx or 5xx status: its JSON
// {"message"} and the status code.
type APIError struct {
	Method  string
	Path    string
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%d from %s %s)", e.Message, e.Status, e.Method, e.Path)
}

// isTenantDeleted tells whether err is the 404 of a tenant that is not
// there (deleted, or never created), as opposed to a 404 of the resource
// itself: the API answers "tenant 'x' not found" before it looks further.
func isTenantDeleted(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound &&
		strings.HasPrefix(apiErr.Message, "tenant '") && strings.HasSuffix(apiErr.Message, "' not found")
}

// isNotFound tells whether err is the API's 404.
func isNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// NewClient makes a client for endpoint, authenticated by token, or else by
// username and password.
func NewClient(endpoint, token, username, password string) *Client {
	return &Client{
		endpoint: strings.TrimRight(endpoint, "/"),
		http:     &http.Client{Timeout: 60 * time.Second},
		username: username,
		password: password,
		token:    token,
	}
}

// request is one call: a body of any content type and extra headers.
type request struct {
	method      string
	path        string
	contentType string
	headers     map[string]string
	body        []byte
}

// JSON sends in (when not nil) as JSON and decodes the answer into out
// (when not nil).
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	req := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.contentType, req.body = "application/json", b
	}
	return c.do(ctx, req, out)
}

func (c *Client) do(ctx context.Context, r request, out any) error {
	loggedIn := false
	for attempt := 0; ; attempt++ {
		token, err := c.bearer(ctx, loggedIn)
		if err != nil {
			return err
		}
		status, body, retryAfter, err := c.send(ctx, r, token)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusUnauthorized && c.username != "" && !loggedIn:
			// The session token expired (or was signed out): log in again once.
			loggedIn = true
			continue
		case (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && attempt < 3:
			if err := sleep(ctx, retryAfter); err != nil {
				return err
			}
			continue
		case status >= 400:
			return &APIError{Method: r.method, Path: r.path, Status: status, Message: errorMessage(body)}
		}
		if out == nil || len(body) == 0 {
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: cannot read the answer: %w", r.method, r.path, err)
		}
		return nil
	}
}

func (c *Client) send(ctx context.Context, r request, token string) (int, []byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	wait := time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 && s <= 10 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, body, wait, nil
}

// bearer is the token to send: the configured one, or a session from a login
// (a new one when renew is set).
func (c *Client) bearer(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.username == "" || (c.token != "" && !renew) {
		return c.token, nil
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	login := map[string]string{"username": c.username, "password": c.password}
	b, _ := json.Marshal(login)
	r := request{method: http.MethodPost, path: "/api/v1/auths/token", contentType: "application/json", body: b}
	status, body, _, err := c.send(ctx, r, "")
	if err != nil {
		return "", fmt.Errorf("logging in to %s: %w", c.endpoint, err)
	}
	if status != http.StatusOK {
		return "", &APIError{Method: r.method, Path: r.path, Status: status, Message: "logging in as " + c.username + ": " + errorMessage(body)}
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("logging in to %s: no access_token in the answer", c.endpoint)
	}
	c.token = answer.AccessToken
	return c.token, nil
}

func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		return s
	}
	return "no message"
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// tenantPath is /api/v1 + the tenant segment (none for the default tenant,
// an empty tenant) + rest.
func tenantPath(tenant, rest string) string {
	if tenant == "" {
		return "/api/v1" + rest
	}
	return "/api/v1/" + url.PathEscape(tenant) + rest
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

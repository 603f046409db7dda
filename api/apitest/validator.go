// Package apitest checks real HTTP exchanges against the wallet's OpenAPI document.
// It lives apart from package api so the server binary does not link kin-openapi.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"example.com/wallet/api"
)

// Load parses and validates Spec with kin-openapi, returning a fresh document the
// caller may modify.
func Load(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		return nil, fmt.Errorf("api: loading openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml is invalid: %w", err)
	}
	return doc, nil
}

// Validator checks HTTP exchanges against Spec. Routes are matched on the request's
// method and path only, whatever its scheme, host and port, so it works against any
// region or test server. It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// NewValidator loads Spec and builds a Validator.
func NewValidator() (*Validator, error) {
	doc, err := Load(context.Background())
	if err != nil {
		return nil, err
	}
	// The legacy router matches servers by host when the document lists any; the
	// document's servers are local defaults, so match on paths alone.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("api: building router: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Check validates a response against the operation of req: the status must be
// documented (explicitly or by the operation's default), the documented headers must
// be present and valid (Location, Retry-After, ...), the Content-Type must be one the
// response declares, and body, the complete response body, must match its schema
// (additionalProperties, amounts as strings, problem codes of the status, ...).
// req is the request that was sent; when nil, resp.Request is used. resp.Body is not
// read. The error says what did not match, or that the route is not in the document.
func (v *Validator) Check(req *http.Request, resp *http.Response, body []byte) error {
	if resp == nil {
		return errors.New("api: nil response")
	}
	if req == nil {
		req = resp.Request
	}
	if req == nil || req.URL == nil {
		return errors.New("api: no request to find the operation by")
	}
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options:    opts,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("api: %s %s -> %d: %w", req.Method, route.Path, resp.StatusCode, err)
	}
	return nil
}

// Doc returns the Validator's parsed document (with servers removed). Callers must not
// modify it.
func (v *Validator) Doc() *openapi3.T { return v.doc }

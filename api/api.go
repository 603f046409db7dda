// Package api holds the wallet's public HTTP contract: the OpenAPI 3.1 document
// (openapi.yaml), a handler serving it, and a Validator that checks real responses
// against it, for end-to-end tests.
package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// Spec is the OpenAPI 3.1 document of the wallet API, as served at GET /openapi.yaml.
// Callers must not modify it.
//
//go:embed openapi.yaml
var Spec []byte

// ContentType is the media type Handler serves Spec with.
const ContentType = "application/yaml"

// Handler serves Spec with Content-Type application/yaml to every request it gets
// (net/http drops the body for HEAD). It needs no authentication and ignores the
// path: mount it for GET /openapi.yaml, outside the authenticated /v1 group.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Length", strconv.Itoa(len(Spec)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(Spec)
	})
}

package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

func testRouter(reg prometheus.Registerer) http.Handler {
	r := chi.NewRouter()
	r.Use(Observe(slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(reg)))
	r.NotFound(NotFound)
	r.MethodNotAllowed(MethodNotAllowed)
	r.Post("/v1/transfers", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	r.Get("/v1/transfers/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return r
}

// A 405 names the methods the route takes (RFC 9110).
func TestMethodNotAllowedSaysWhatIsAllowed(t *testing.T) {
	h := testRouter(prometheus.NewRegistry())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v1/transfers", nil))
	if rec.Code != http.StatusMethodNotAllowed || strings.Join(rec.Header().Values("Allow"), ",") != "POST" {
		t.Fatalf("DELETE /v1/transfers = %d, Allow %v; want 405 with Allow: POST", rec.Code, rec.Header().Values("Allow"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v1/transfers/eu_tr_1", nil))
	if got := rec.Header().Values("Allow"); rec.Code != 405 || strings.Join(got, ",") != "GET" {
		t.Fatalf("PUT /v1/transfers/{id} = %d, Allow %v; want 405 with Allow: GET", rec.Code, got)
	}
}

// Metrics are labelled from closed sets: a flood of made-up methods and paths, sent
// without any credential, adds no series.
func TestMetricLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := testRouter(reg)
	for i := range 500 {
		method := "M" + strings.Repeat("X", 100) + string(rune('A'+i%26)) + strings.Repeat("Y", i)
		req := httptest.NewRequest(http.MethodGet, "/v1/transfers", nil)
		req.Method = method
		h.ServeHTTP(httptest.NewRecorder(), req)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere/"+strings.Repeat("p", i), nil))
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range families {
		series += len(f.GetMetric())
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if len(l.GetValue()) > 40 {
					t.Errorf("%s has a label %s of %d bytes: %.60s", f.GetName(), l.GetName(), len(l.GetValue()), l.GetValue())
				}
			}
		}
	}
	if series > 6 {
		t.Fatalf("1000 requests with made-up methods and paths made %d series", series)
	}
}

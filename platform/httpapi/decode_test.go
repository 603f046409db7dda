package httpapi

import (
	"runtime"
	"strings"
	"testing"
)

type sample struct {
	Amount   *string           `json:"amount"`
	Metadata map[string]string `json:"metadata"`
}

func TestDecodeJSONStrict(t *testing.T) {
	cases := []struct {
		body  string
		field string // "" with ok=false: any invalid_request
		ok    bool
	}{
		{`{"amount":"10"}`, "", true},
		{`{"amount":"10","metadata":{"a":"b"}}`, "", true},
		{`  {"amount":"10"}  `, "", true},
		{``, "", false},
		{`[]`, "", false},
		{`"x"`, "", false},
		{`{"amount":"10"`, "", false},
		{`{"amount":"10"}{}`, "", false},
		{`{"amount":"10"} x`, "", false},
		{`{"amount":"10","amount":"11"}`, "amount", false},
		{`{"metadata":{"a":"1","a":"2"}}`, "metadata.a", false},
		{`{"AMOUNT":"10"}`, "AMOUNT", false},
		{`{"Amount":"10"}`, "Amount", false},
		{`{"other":1}`, "other", false},
		{`{"amount":10}`, "amount", false},
		{`{"amount":null}`, "amount", false}, // no field is nullable
		{`{"amount":"10","metadata":null}`, "metadata", false},
		{`{"amount":"10","metadata":{"a":null}}`, "metadata.a", false},
		{`{"metadata":{"a":1}}`, "metadata", false},
		{`{"metadata":"x"}`, "metadata", false},
		{"{\"amount\":\"1\xff\"}", "", false}, // invalid UTF-8, which encoding/json would replace
	}
	for _, c := range cases {
		var s sample
		err := DecodeJSONBytes([]byte(c.body), &s)
		if c.ok {
			if err != nil {
				t.Errorf("%q: %v", c.body, err)
			}
			continue
		}
		p, isProblem := AsProblem(err)
		if !isProblem || p.Status != 400 || p.Code != CodeInvalidRequest {
			t.Errorf("%q: %v, want invalid_request", c.body, err)
			continue
		}
		if c.field != "" && !strings.HasPrefix(p.Detail, c.field+":") && !strings.HasPrefix(p.Detail, c.field+".") {
			t.Errorf("%q: detail %q does not name %s", c.body, p.Detail, c.field)
		}
	}
}

// FuzzDecodeJSON: whatever the body, decoding either succeeds or returns a 400
// problem; it never panics, and an accepted body never has unknown fields.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"amount":"1"}`, `{"amount":"1","amount":"2"}`, `{"metadata":{"k":"v"}}`, `{}`, `[`, `{"a":[1,{"b":2}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var s sample
		err := DecodeJSONBytes([]byte(body), &s)
		if err == nil {
			return
		}
		if p, ok := AsProblem(err); !ok || p.Status != 400 {
			t.Fatalf("%q: %v is not a 400 problem", body, err)
		}
	})
}

// A body nested thousands of levels deep is refused at the ninth, in bounded memory,
// with a short detail: it used to cost the decoder a path per level (gigabytes for a
// body near the size limit) and to echo the whole path back.
func TestDeepNestingIsRefusedCheaply(t *testing.T) {
	for _, body := range []string{
		`{"metadata":{"a":` + strings.Repeat("[", 60000) + strings.Repeat("]", 60000) + `}}`,
		`{"amount":` + strings.Repeat(`{"x":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`,
		`{"amount":[[[[[[[[[[1]]]]]]]]]]}`,
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := DecodeJSONBytes([]byte(body), &sample{})
		runtime.ReadMemStats(&after)
		p, ok := AsProblem(err)
		if !ok || p.Status != 400 || !strings.Contains(p.Detail, "nests deeper than") || len(p.Detail) > maxDetail {
			t.Fatalf("%.40q...: %v, want a short 400 about nesting", body, err)
		}
		if used := after.TotalAlloc - before.TotalAlloc; used > 4<<20 {
			t.Fatalf("%.40q...: decoding allocated %d bytes", body, used)
		}
	}
	// The wallet's own bodies nest three levels and stay accepted.
	if err := DecodeJSONBytes([]byte(`{"amount":"1","metadata":{"k":"v"}}`), &sample{}); err != nil {
		t.Fatal(err)
	}
}

// A refusal's detail never grows with the body.
func TestRefusalDetailIsBounded(t *testing.T) {
	long := strings.Repeat("k", 5000)
	err := DecodeJSONBytes([]byte(`{"metadata":{"`+long+`":"1","`+long+`":"2"}}`), &sample{})
	p, ok := AsProblem(err)
	if !ok || len(p.Detail) > maxDetail {
		t.Fatalf("detail of %d bytes: %v", len(p.Detail), err)
	}
}

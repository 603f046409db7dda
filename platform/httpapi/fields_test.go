package httpapi

import (
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestAmountField(t *testing.T) {
	s := func(v string) *string { return &v }
	if a, err := AmountField(s("1000000000000000000000000")); err != nil || a.String() != "1000000000000000000000000" {
		t.Fatalf("= %v, %v", a, err)
	}
	for _, in := range []*string{nil, s(""), s("0"), s("-1"), s("1.5"), s("01"), s(" 1")} {
		if _, err := AmountField(in); !isProblem(err, CodeInvalidAmount) {
			t.Errorf("AmountField(%v) = %v, want %s", in, err, CodeInvalidAmount)
		}
	}
}

func TestPageLimit(t *testing.T) {
	for query, want := range map[string]int{"": DefaultPageLimit, "?limit=1": 1, "?limit=200": 200} {
		if n, err := PageLimit(httptest.NewRequest("GET", "/l"+query, nil)); err != nil || n != want {
			t.Errorf("%q = %d, %v, want %d", query, n, err, want)
		}
	}
	for _, query := range []string{"?limit=", "?limit=0", "?limit=201", "?limit=01", "?limit=x", "?limit=+5"} {
		if _, err := PageLimit(httptest.NewRequest("GET", "/l"+query, nil)); !isProblem(err, CodeInvalidRequest) {
			t.Errorf("%q = %v, want invalid_request", query, err)
		}
	}
}

func TestCursorsRoundTripAndRefuseForgeries(t *testing.T) {
	positive := func(p string) bool { n, err := strconv.ParseInt(p, 10, 64); return err == nil && n > 0 }
	c := EncodeCursor("seq", "42")
	if got, err := CursorParam(httptest.NewRequest("GET", "/l?cursor="+c, nil), "seq", positive); err != nil || got != "42" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	if got, err := CursorParam(httptest.NewRequest("GET", "/l", nil), "seq", positive); err != nil || got != "" {
		t.Fatalf("absent = %q, %v", got, err)
	}
	for _, forged := range []string{
		"",                              // present but empty
		"not+base64",                    //
		EncodeCursor("tr", "42"),        // another list's cursor
		EncodeCursor("seq", "0"),        // a position the list refuses
		EncodeCursor("seq", "42") + "=", // padded: not what this API returned
	} {
		if _, err := CursorParam(httptest.NewRequest("GET", "/l?cursor="+url.QueryEscape(forged), nil), "seq", positive); !isProblem(err, CodeInvalidRequest) {
			t.Errorf("cursor %q = %v, want invalid_request", forged, err)
		}
	}
}

func TestMetadataFieldIsAnInvalidRequest(t *testing.T) {
	if err := MetadataField(map[string]string{"ok": "v"}); err != nil {
		t.Fatal(err)
	}
	err := MetadataField(map[string]string{"bad key": "v"})
	if p, ok := AsProblem(err); !ok || p.Code != CodeInvalidRequest || p.Status != 400 ||
		p.Detail != `metadata: key "bad key" must be 1 to 64 letters, digits, '_', '.' or '-'` {
		t.Fatalf("= %v", err)
	}
}

func isProblem(err error, code string) bool {
	p, ok := AsProblem(err)
	return ok && p.Code == code && p.Status == 400
}

func TestTimeParam(t *testing.T) {
	want := time.Date(2026, 11, 27, 9, 0, 0, 500000000, time.UTC)
	for query, ok := range map[string]bool{
		"at=2026-11-27T09:00:00.5Z":        true,
		"at=2026-11-27t09:00:00.5z":        true, // RFC 3339 allows lower case
		"at=2026-11-27T10:00:00.5%2B01:00": true,
		"at=":                              false,
		"at=2026-11-27":                    false,
		"at=yesterday":                     false,
		"at=10000-01-01T00:00:00Z":         false,
	} {
		got, err := TimeParam(httptest.NewRequest("GET", "/b?"+query, nil), "at")
		if ok && (err != nil || !got.Equal(want)) {
			t.Errorf("%s = %v, %v; want %v", query, got, err, want)
		}
		if !ok && !isProblem(err, CodeInvalidRequest) {
			t.Errorf("%s = %v, %v; want invalid_request", query, got, err)
		}
	}
	if got, err := TimeParam(httptest.NewRequest("GET", "/b", nil), "at"); err != nil || !got.IsZero() {
		t.Fatalf("absent = %v, %v", got, err)
	}
}

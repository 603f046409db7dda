package metadata

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	// The value limit counts characters, as the document's maxLength does: 256 of them
	// are accepted whatever their UTF-8 length.
	ok := map[string]string{"order": "A-1", "note.x": strings.Repeat("v", MaxValue), "name": strings.Repeat("é", MaxValue)}
	if err := Validate(ok); err != nil {
		t.Fatal(err)
	}
	many := map[string]string{}
	for i := 0; i <= MaxKeys; i++ {
		many[fmt.Sprint("k", i)] = "v"
	}
	bad := []struct {
		md     map[string]string
		detail string
	}{
		{map[string]string{"": "x"}, `metadata: key "" must be 1 to 64 letters, digits, '_', '.' or '-'`},
		{map[string]string{"bad key": "x"}, `metadata: key "bad key" must be 1 to 64 letters, digits, '_', '.' or '-'`},
		{map[string]string{"k": strings.Repeat("v", MaxValue+1)}, "metadata.k: at most 256 characters"},
		{map[string]string{"k": strings.Repeat("é", MaxValue+1)}, "metadata.k: at most 256 characters"},
		// PostgreSQL's jsonb refuses NUL: a 500 before it was refused here.
		{map[string]string{"k": "nul\x00inside"}, "metadata.k: must not contain control characters or invalid UTF-8"},
		{map[string]string{"k": "bell\a"}, "metadata.k: must not contain control characters or invalid UTF-8"},
		{map[string]string{"k": "bad\xffutf8"}, "metadata.k: must not contain control characters or invalid UTF-8"},
		{many, "metadata: at most 16 keys"},
	}
	for _, c := range bad {
		if err := Validate(c.md); err == nil || err.Error() != c.detail {
			t.Errorf("Validate(%q) = %v, want %q", c.md, err, c.detail)
		}
	}
}

func TestCanonicalRoundTrips(t *testing.T) {
	if Canonical(nil) != nil || Canonical(map[string]string{}) != nil {
		t.Fatal("no metadata must encode as nothing")
	}
	md := map[string]string{"b": "2", "a": "é\"1"}
	got := string(Canonical(md))
	if want := `{"a":"é\"1","b":"2"}`; got != want {
		t.Fatalf("Canonical = %s, want %s (sorted keys)", got, want)
	}
	back, err := Decode([]byte(got))
	if err != nil || len(back) != 2 || back["a"] != md["a"] || back["b"] != "2" {
		t.Fatalf("Decode = %v, %v", back, err)
	}
	if back, err := Decode(nil); back != nil || err != nil {
		t.Fatalf("Decode(nil) = %v, %v", back, err)
	}
	if _, err := Decode([]byte(`{"a":1}`)); err == nil {
		t.Fatal("a stored value that is not a string map must be an error")
	}
}

func FuzzCanonicalRoundTrips(f *testing.F) {
	f.Add("order", "A-1", "note", "x")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		md := map[string]string{k1: v1, k2: v2}
		if Validate(md) != nil {
			return
		}
		back, err := Decode(Canonical(md))
		if err != nil || len(back) != len(md) || back[k1] != v1 || back[k2] != v2 {
			t.Fatalf("round trip of %q = %q, %v", md, back, err)
		}
	})
}

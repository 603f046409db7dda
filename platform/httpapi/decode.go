package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// DecodeJSON reads the request body into dst (a pointer to a struct) strictly: the
// body must be exactly one JSON object, with no unknown or differently-cased field, no
// duplicate key at any depth, no null, no trailing data, and values of the declared
// types.
// Errors are 400 invalid_request problems whose detail names the field.
func DecodeJSON(r *http.Request, dst any) error {
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(body, dst)
}

// ReadBody reads the whole request body, which the BodyLimit middleware bounds: a body
// beyond the bound is a 413 request_too_large problem, one that could not be read a
// 400.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, NewProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
		}
		return nil, NewProblem(http.StatusBadRequest, CodeInvalidRequest, "the body could not be read")
	}
	return body, nil
}

// DecodeJSONBytes is DecodeJSON on a body already read.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("", "the body must be a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bad bytes with U+FFFD, silently.
		return invalid("", "the body is not valid UTF-8")
	}
	if err := checkStructure(body, reflect.TypeOf(dst).Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return invalid(typeErr.Field, "must be a JSON %s", jsonKind(typeErr.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(field, "is not a known field")
		default:
			return invalid("", "malformed JSON")
		}
	}
	return nil
}

// maxDepth bounds how deeply a request body may nest. The wallet's bodies need three
// levels (an object, its metadata object, a value); without a bound, a body of a few
// kilobytes of '[' made the decoder build a path per level and cost a replica
// gigabytes.
const maxDepth = 8

// checkStructure walks the tokens of body: one object, nested at most maxDepth deep,
// no duplicate keys and no null anywhere, nothing after it, and top-level keys spelled
// exactly as the struct's json tags (encoding/json would otherwise accept "AMOUNT" for
// "amount").
func checkStructure(body []byte, t reflect.Type) error {
	known := map[string]bool{}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				known[name] = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return invalid("", "malformed JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return invalid("", "the body must be a JSON object")
	}
	w := walker{dec: dec}
	if err := w.object(known); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "unexpected data after the JSON object")
	}
	return nil
}

// walker walks a body's tokens, keeping the path as a stack of segments that is only
// joined into a string for an error.
type walker struct {
	dec  *json.Decoder
	path []string
}

func (w *walker) field() string {
	var b strings.Builder
	for _, seg := range w.path {
		if b.Len() > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// object consumes an object whose '{' was read. known, when not nil, is the set of
// allowed keys.
func (w *walker) object(known map[string]bool) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return invalid(w.field(), "malformed JSON")
		}
		key := tok.(string)
		w.path = append(w.path, key)
		if seen[key] {
			return invalid(w.field(), "appears more than once")
		}
		seen[key] = true
		if known != nil && !known[key] {
			return invalid(w.field(), "is not a known field")
		}
		if err := w.value(); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
	if _, err := w.dec.Token(); err != nil { // the closing '}'
		return invalid(w.field(), "malformed JSON")
	}
	return nil
}

func (w *walker) value() error {
	tok, err := w.dec.Token()
	if err != nil {
		return invalid(w.field(), "malformed JSON")
	}
	if tok == nil {
		// No field of the API is nullable. encoding/json would decode null as the
		// field's absence ({"region":null} as the default region, "metadata":null as
		// none), accepting a body the document says is malformed.
		return invalid(w.field(), "must not be null")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if len(w.path) >= maxDepth {
		return invalid("", "the body nests deeper than %d levels", maxDepth)
	}
	switch d {
	case '{':
		return w.object(nil)
	case '[':
		for i := 0; w.dec.More(); i++ {
			w.path = append(w.path, fmt.Sprintf("[%d]", i))
			if err := w.value(); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
		if _, err := w.dec.Token(); err != nil {
			return invalid(w.field(), "malformed JSON")
		}
	}
	return nil
}

// maxDetail bounds a refusal's detail: it names the field, it does not echo the body.
const maxDetail = 200

func invalid(field, format string, args ...any) *Problem {
	detail := fmt.Sprintf(format, args...)
	if field != "" {
		detail = field + ": " + detail
	}
	if len(detail) > maxDetail {
		detail = detail[:maxDetail-3] + "..."
	}
	return NewProblem(http.StatusBadRequest, CodeInvalidRequest, "%s", detail)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	default:
		return "number"
	}
}

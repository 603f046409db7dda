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
)

// DecodeJSON reads the request body into dst (a pointer to a struct) strictly: the
// body must be exactly one JSON object, with no unknown or differently-cased field, no
// duplicate key at any depth, no trailing data, and values of the declared types.
// Errors are 400 invalid_request problems whose detail names the field.
func DecodeJSON(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return NewProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
		}
		return NewProblem(http.StatusBadRequest, CodeInvalidRequest, "the body could not be read")
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeJSONBytes is DecodeJSON on a body already read.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("", "the body must be a JSON object")
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

// checkStructure walks the tokens of body: one object, no duplicate keys anywhere,
// nothing after it, and top-level keys spelled exactly as the struct's json tags
// (encoding/json would otherwise accept "AMOUNT" for "amount").
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
	if err := walkObject(dec, "", known); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "unexpected data after the JSON object")
	}
	return nil
}

// walkObject consumes an object whose '{' was read. known, when not nil, is the set of
// allowed keys.
func walkObject(dec *json.Decoder, path string, known map[string]bool) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid(path, "malformed JSON")
		}
		key := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return invalid(field, "appears more than once")
		}
		seen[key] = true
		if known != nil && !known[key] {
			return invalid(field, "is not a known field")
		}
		if err := walkValue(dec, field); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return invalid(path, "malformed JSON")
	}
	return nil
}

func walkValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return invalid(path, "malformed JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return walkObject(dec, path, nil)
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return invalid(path, "malformed JSON")
		}
	}
	return nil
}

func invalid(field, format string, args ...any) *Problem {
	detail := fmt.Sprintf(format, args...)
	if field != "" {
		detail = field + ": " + detail
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

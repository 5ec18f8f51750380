package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EventEnvelope is the schema file every event schema refers to.
const EventEnvelope = "envelope.json"

// EventSchemas compiles the event schemas in dir (docs/events): one per event type, named after the type,
// whose properties.type.const must equal that name. Formats such as date-time are asserted.
func EventSchemas(tb testing.TB, dir string) map[string]*jsonschema.Schema {
	tb.Helper()
	dir, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// The type schemas refer to the envelope relative to their $id: register it under its own $id.
	envelope, err := os.ReadFile(filepath.Join(dir, EventEnvelope))
	if err != nil {
		tb.Fatal(err)
	}
	var head struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(envelope, &head); err != nil || head.ID == "" {
		tb.Fatalf("%s: no $id (%v)", EventEnvelope, err)
	}
	envDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(envelope))
	if err != nil {
		tb.Fatalf("%s: %v", EventEnvelope, err)
	}
	if err := c.AddResource(head.ID, envDoc); err != nil {
		tb.Fatalf("add %s: %v", EventEnvelope, err)
	}
	if _, err := c.Compile(head.ID); err != nil {
		tb.Fatalf("compile %s: %v", EventEnvelope, err)
	}
	schemas := map[string]*jsonschema.Schema{}
	for _, path := range files {
		base := filepath.Base(path)
		if base == EventEnvelope {
			continue
		}
		typ := strings.TrimSuffix(base, ".json")
		raw, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		var doc struct {
			Properties struct {
				Type struct {
					Const string `json:"const"`
				} `json:"type"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			tb.Fatalf("%s: %v", base, err)
		}
		if doc.Properties.Type.Const != typ {
			tb.Errorf("%s: properties.type.const = %q, want %q (the file's name)", base, doc.Properties.Type.Const, typ)
		}
		sch, err := c.Compile(path)
		if err != nil {
			tb.Fatalf("compile %s: %v", base, err)
		}
		schemas[typ] = sch
	}
	return schemas
}

// ValidateEvent validates raw (one event as JSON) against the schema of its type and returns the type.
func ValidateEvent(schemas map[string]*jsonschema.Schema, raw []byte) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", err
	}
	sch, ok := schemas[head.Type]
	if !ok {
		return head.Type, fmt.Errorf("no schema for event type %q", head.Type)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return head.Type, err
	}
	return head.Type, sch.Validate(v)
}

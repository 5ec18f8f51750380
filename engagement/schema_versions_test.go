package engagement

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// currentFlatSchemas reads docs/events and returns each type's schema flattened (schema_compat_test.go),
// and the raw documents by type.
func currentFlatSchemas(t *testing.T) (flat, raw map[string]map[string]any, envelope map[string]any) {
	t.Helper()
	envelope, err := readJSONFile(filepath.Join(eventSchemaDir, "envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(eventSchemaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	flat, raw = map[string]map[string]any{}, map[string]map[string]any{}
	for _, path := range files {
		typ := strings.TrimSuffix(filepath.Base(path), ".json")
		if typ == "envelope" {
			continue
		}
		doc, err := readJSONFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := flattenEventSchema(doc, envelope)
		if err != nil {
			t.Fatalf("flatten %s: %v", typ, err)
		}
		raw[typ], flat[typ] = doc, f
	}
	if len(flat) == 0 {
		t.Fatal("no event schemas found")
	}
	return flat, raw, envelope
}

// TestEventSchemaVersions checks the one source of the versions (event_schema.go) against the schema files
// and the events: every type has a version, its schema's $id is EventSchemaID and its dataschema is fixed to
// that id, and NewEvent writes it.
func TestEventSchemaVersions(t *testing.T) {
	_, raw, envelope := currentFlatSchemas(t)
	if envelope["$id"] != EventSchemaBase+"envelope.json" {
		t.Errorf("envelope.json: $id = %v, want %s", envelope["$id"], EventSchemaBase+"envelope.json")
	}
	for name, typ := range eventTypeConstants(t) {
		if EventSchemaVersion(typ) < 1 {
			t.Errorf("%s (%s) has no schema version in eventSchemaVersions", name, typ)
		}
	}
	if len(eventSchemaVersions) != len(raw) {
		t.Errorf("eventSchemaVersions has %d types, docs/events has %d schemas", len(eventSchemaVersions), len(raw))
	}
	for _, typ := range slices.Sorted(maps.Keys(raw)) {
		doc := raw[typ]
		id := EventSchemaID(typ)
		if id == "" {
			t.Errorf("%s: no version", typ)
			continue
		}
		if doc["$id"] != id {
			t.Errorf("%s.json: $id = %v, want %s", typ, doc["$id"], id)
		}
		props, _ := doc["properties"].(map[string]any)
		ds, _ := props["dataschema"].(map[string]any)
		if ds["const"] != id {
			t.Errorf("%s.json: properties.dataschema.const = %v, want %s", typ, ds["const"], id)
		}
		ev, err := NewEvent("kudos/node-1", typ, "s-1", "u-1", "a", time.Now(), map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.DataSchema != id {
			t.Errorf("NewEvent(%s).DataSchema = %q, want %q", typ, ev.DataSchema, id)
		}
	}
	if EventSchemaID("kudos.no.such") != "" {
		t.Error("an unknown type has a schema id")
	}
}

// TestEventSchemasCompatible compares the schemas with their committed baselines: a breaking change needs a
// new version (and its baseline), a compatible one a refreshed baseline. With -update-schema-baseline it
// records what it may (never over a breaking change).
func TestEventSchemasCompatible(t *testing.T) {
	flat, _, _ := currentFlatSchemas(t)
	baselines, err := readSchemaBaselines(schemaBaselineDir)
	if err != nil {
		t.Fatal(err)
	}
	for typ, versions := range baselines {
		for v, doc := range versions {
			if want := EventSchemaBase + schemaBaselineFile(typ, v); doc["$id"] != want {
				t.Errorf("baseline %s: $id = %v, want %s", schemaBaselineFile(typ, v), doc["$id"], want)
			}
		}
	}
	problems, write := checkSchemaVersions(flat, eventSchemaVersions, baselines, *updateSchemaBaseline)
	for _, p := range problems {
		t.Error(p)
	}
	for _, file := range slices.Sorted(maps.Keys(write)) {
		if err := writeSchemaFile(filepath.Join(schemaBaselineDir, file), write[file]); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s", file)
	}
}

// TestEventSchemaBaselinesValidate compiles every baseline as the self-contained schema it is and checks
// that the events of a whole show and the doc examples validate against the baseline of their version, and
// that the baseline still refuses what the schema refuses (an event of another type).
func TestEventSchemaBaselinesValidate(t *testing.T) {
	baselines, err := readSchemaBaselines(schemaBaselineDir)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	compiled := map[string]*jsonschema.Schema{}
	for typ, versions := range baselines {
		for v := range versions {
			file := schemaBaselineFile(typ, v)
			sch, err := c.Compile(filepath.Join(schemaBaselineDir, file))
			if err != nil {
				t.Fatalf("compile %s: %v", file, err)
			}
			compiled[EventSchemaBase+file] = sch
		}
	}
	validate := func(what string, raw []byte) {
		t.Helper()
		var head struct {
			Type       string `json:"type"`
			DataSchema string `json:"dataschema"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		sch, ok := compiled[head.DataSchema]
		if !ok {
			t.Errorf("%s (%s): no baseline for dataschema %q", what, head.Type, head.DataSchema)
			return
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s (%s) does not validate against its baseline: %v", what, head.Type, err)
		}
		for id, other := range compiled {
			if id != head.DataSchema && other.Validate(v) == nil {
				t.Errorf("%s (%s) validates against %s too", what, head.Type, id)
			}
		}
	}
	events := showScript(t)
	for _, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		validate("show event "+ev.ID, raw)
	}
	for typ, blocks := range docExamples(t) {
		for _, b := range blocks {
			validate("the docs example of "+typ, []byte(b))
		}
	}
}

// TestSchemaCompatCheckerReports is the test of the check: hand-made breaking changes, applied in memory to
// the current schemas, must each be reported (and stop a baseline from being recorded), compatible ones must
// not, and a bumped version must need, then accept, its new baseline.
func TestSchemaCompatCheckerReports(t *testing.T) {
	flat, raw, envelope := currentFlatSchemas(t)
	data := func(s map[string]any) map[string]any {
		return s["properties"].(map[string]any)["data"].(map[string]any)
	}
	field := func(s map[string]any, name string) map[string]any {
		return data(s)["properties"].(map[string]any)[name].(map[string]any)
	}
	removeRequired := func(s map[string]any, name string) {
		d := data(s)
		d["required"] = slices.DeleteFunc(slices.Clone(d["required"].([]any)), func(v any) bool { return v == name })
	}
	type change struct {
		name  string
		typ   string
		apply func(old, new map[string]any) // old is the baseline, new the schema
		want  string                        // a part of the report; "" for a compatible change
	}
	changes := []change{
		{"removed field", EventCommentPosted, func(_, s map[string]any) {
			delete(data(s)["properties"].(map[string]any), "length")
			removeRequired(s, "length")
		}, "data.length: removed field"},
		{"removed optional field", EventPurchaseRecorded, func(_, s map[string]any) {
			delete(data(s)["properties"].(map[string]any), "items")
		}, "data.items: removed field"},
		{"removed envelope field", EventPollVoted, func(_, s map[string]any) {
			delete(s["properties"].(map[string]any), "variant")
		}, "variant: removed field"},
		{"new required field", EventCommentPosted, func(_, s map[string]any) {
			data(s)["properties"].(map[string]any)["lang"] = map[string]any{"type": "string"}
			data(s)["required"] = append(slices.Clone(data(s)["required"].([]any)), "lang")
		}, `new required field "lang"`},
		{"field became required", EventPurchaseRecorded, func(_, s map[string]any) {
			data(s)["required"] = append(slices.Clone(data(s)["required"].([]any)), "items")
		}, `field "items" became required`},
		{"field no longer required", EventQuestionAsked, func(_, s map[string]any) {
			removeRequired(s, "question_id")
		}, `field "question_id" no longer required`},
		{"changed type", EventCommentPosted, func(_, s map[string]any) {
			field(s, "length")["type"] = "string"
		}, `data.length: changed type from "integer" to "string"`},
		{"narrowed type", EventCommentPosted, func(old, s map[string]any) {
			field(old, "length")["type"] = []any{"integer", "null"}
		}, `data.length: narrowed type from ["integer","null"] to "integer"`},
		{"integer to number", EventLikeSent, func(_, s map[string]any) {
			field(s, "count")["type"] = "number"
		}, `data.count: changed type`},
		{"removed enum value", EventPointsAwarded, func(_, s map[string]any) {
			src := field(s, "source")
			src["enum"] = slices.DeleteFunc(slices.Clone(src["enum"].([]any)), func(v any) bool { return v == "quiz" })
		}, `data.source: removed enum value "quiz"`},
		{"added enum value", EventFeedbackGiven, func(_, s map[string]any) {
			k := field(s, "kind")
			k["enum"] = append(slices.Clone(k["enum"].([]any)), "stars")
		}, `data.kind: added enum value "stars"`},
		{"narrowed length", EventCommentPosted, func(_, s map[string]any) {
			field(s, "text")["maxLength"] = 100.0
		}, "data.text: narrowed maxLength from 200 to 100"},
		{"new bound", EventLikeSent, func(_, s map[string]any) {
			field(s, "count")["maximum"] = 1000.0
		}, "data.count: narrowed by a new maximum 1000"},
		{"changed pattern", EventStreamEnded, func(_, s map[string]any) {
			field(s, "stream")["pattern"] = "^[a-z]+$"
		}, "data.stream: pattern changed"},
		{"narrowed items", EventPollClosed, func(_, s map[string]any) {
			field(s, "counts")["items"].(map[string]any)["minimum"] = 1.0
		}, "data.counts[]: narrowed minimum from 0 to 1"},
		{"changed dataschema", EventLikeSent, func(_, s map[string]any) {
			s["properties"].(map[string]any)["dataschema"].(map[string]any)["const"] = EventSchemaBase + "kudos.like.sent.v2.json"
		}, "dataschema: const changed"},
		// Compatible: a new optional field, new words, a field marked personal.
		{"new optional field", EventCommentPosted, func(_, s map[string]any) {
			data(s)["properties"].(map[string]any)["lang"] = map[string]any{"type": "string", "maxLength": 8.0}
		}, ""},
		{"new description and x-personal", EventLikeSent, func(_, s map[string]any) {
			s["description"] = "Likes, reworded."
			field(s, "count")["x-personal"] = true
		}, ""},
	}
	copyOf := func(m map[string]any) map[string]any {
		var out map[string]any
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, ch := range changes {
		old, cur := copyOf(flat[ch.typ]), copyOf(flat[ch.typ])
		ch.apply(old, cur)
		baselines := map[string]map[int]map[string]any{ch.typ: {1: old}}
		problems, write := checkSchemaVersions(map[string]map[string]any{ch.typ: cur}, map[string]int{ch.typ: 1}, baselines, true)
		report := strings.Join(problems, "\n")
		if ch.want == "" {
			if len(problems) > 0 {
				t.Errorf("%s: reported a compatible change:\n%s", ch.name, report)
			}
			if _, ok := write[schemaBaselineFile(ch.typ, 1)]; !ok {
				t.Errorf("%s: the compatible change would not be recorded", ch.name)
			}
			continue
		}
		if !strings.Contains(report, ch.want) {
			t.Errorf("%s: report %q does not say %q", ch.name, report, ch.want)
		}
		if len(write) > 0 {
			t.Errorf("%s: a breaking change would be recorded as the same version's baseline", ch.name)
		}
		// The same change with the version bumped: the new version needs its baseline, then passes.
		problems, _ = checkSchemaVersions(map[string]map[string]any{ch.typ: cur}, map[string]int{ch.typ: 2}, baselines, false)
		if len(problems) != 1 || !strings.Contains(problems[0], "only version 1 is recorded") {
			t.Errorf("%s with version 2 and no baseline: %q", ch.name, problems)
		}
		problems, write = checkSchemaVersions(map[string]map[string]any{ch.typ: cur}, map[string]int{ch.typ: 2}, baselines, true)
		if len(problems) != 0 || write[schemaBaselineFile(ch.typ, 2)] == nil {
			t.Errorf("%s with version 2, recording: problems %q, recorded %v", ch.name, problems, slices.Collect(maps.Keys(write)))
		}
		baselines[ch.typ][2] = cur
		if problems, _ = checkSchemaVersions(map[string]map[string]any{ch.typ: cur}, map[string]int{ch.typ: 2}, baselines, false); len(problems) != 0 {
			t.Errorf("%s with version 2 recorded: %q", ch.name, problems)
		}
	}

	// A breaking change to the raw envelope is a breaking change of every type: the flattening carries it.
	env := copyOf(envelope)
	env["properties"].(map[string]any)["variant"].(map[string]any)["maxLength"] = 32.0
	for _, typ := range []string{EventCommentPosted, EventQuizRevealed} {
		after, err := flattenEventSchema(raw[typ], env)
		if err != nil {
			t.Fatal(err)
		}
		breaks := schemaBreaks("", flat[typ], after)
		if len(breaks) != 1 || breaks[0] != "variant: narrowed maxLength from 64 to 32" {
			t.Errorf("%s with a narrowed envelope variant: %q", typ, breaks)
		}
	}
	// So is one to a definition the type refers to.
	env = copyOf(envelope)
	env["$defs"].(map[string]any)["streamId"].(map[string]any)["pattern"] = "^[a-z]+$"
	after, err := flattenEventSchema(raw[EventCommentPosted], env)
	if err != nil {
		t.Fatal(err)
	}
	if breaks := strings.Join(schemaBreaks("", flat[EventCommentPosted], after), "\n"); !strings.Contains(breaks, "data.stream: pattern changed") || !strings.Contains(breaks, "subject: pattern changed") {
		t.Errorf("a changed streamId definition: %q", breaks)
	}

	// Versions only go up, one at a time; a type with a baseline is never removed.
	cur := map[string]map[string]any{EventLikeSent: flat[EventLikeSent]}
	twoVersions := map[string]map[int]map[string]any{EventLikeSent: {1: flat[EventLikeSent], 2: flat[EventLikeSent]}}
	if p, _ := checkSchemaVersions(cur, map[string]int{EventLikeSent: 1}, twoVersions, true); len(p) != 1 || !strings.Contains(p[0], "versions only go up") {
		t.Errorf("a version gone back: %q", p)
	}
	if p, _ := checkSchemaVersions(cur, map[string]int{EventLikeSent: 4}, twoVersions, true); len(p) != 1 || !strings.Contains(p[0], "the next version is 3") {
		t.Errorf("a skipped version: %q", p)
	}
	gone := map[string]map[int]map[string]any{EventLikeSent: {1: flat[EventLikeSent]}, EventLikeSent + "x": {1: flat[EventLikeSent]}}
	if p, _ := checkSchemaVersions(cur, map[string]int{EventLikeSent: 1}, gone, true); len(p) != 1 || !strings.Contains(p[0], "a type is never removed") {
		t.Errorf("a removed type: %q", p)
	}
	// And the unchanged schemas pass as they are.
	if p, w := checkSchemaVersions(cur, map[string]int{EventLikeSent: 1}, map[string]map[int]map[string]any{EventLikeSent: {1: copyOf(flat[EventLikeSent])}}, false); len(p) != 0 || len(w) != 0 {
		t.Errorf("an unchanged schema: problems %q, recorded %d", p, len(w))
	}
}

// personalFields returns, from the flattened schemas, each field marked "x-personal": true (as a path,
// "userid" or "data.text") with the types whose schema marks it.
func personalFields(flat map[string]map[string]any) map[string][]string {
	out := map[string][]string{}
	var walk func(typ, path string, s map[string]any)
	walk = func(typ, path string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(props)) {
			p, _ := props[name].(map[string]any)
			child := strings.TrimPrefix(path+"."+name, ".")
			if p["x-personal"] == true {
				out[child] = append(out[child], typ)
			}
			walk(typ, child, p)
			if items, ok := p["items"].(map[string]any); ok {
				walk(typ, child+"[]", items)
			}
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(flat)) {
		walk(typ, "", flat[typ])
	}
	return out
}

// TestPersonalFieldsDocumented: the table of docs/events.md ("Personal fields") lists exactly the fields the
// schemas mark "x-personal", with the same types ("every event" for the envelope's, which every type has).
func TestPersonalFieldsDocumented(t *testing.T) {
	flat, _, _ := currentFlatSchemas(t)
	marked := personalFields(flat)
	if len(marked["data.text"]) == 0 || len(marked["userid"]) != len(flat) {
		t.Fatalf("the schemas mark too little: %v", marked)
	}
	raw, err := os.ReadFile(eventDocPath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Personal fields\n")
	if !ok {
		t.Fatalf("%s has no section ## Personal fields", eventDocPath)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string][]string{}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		field := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if strings.Contains(cells[2], "every event") {
			documented[field] = slices.Sorted(maps.Keys(flat))
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
			documented[field] = append(documented[field], m[1])
		}
		slices.Sort(documented[field])
	}
	for _, field := range slices.Sorted(maps.Keys(marked)) {
		if !slices.Equal(marked[field], documented[field]) {
			t.Errorf("%s: marked x-personal in %v, documented for %v", field, marked[field], documented[field])
		}
	}
	for field, types := range documented {
		if _, ok := marked[field]; !ok {
			t.Errorf("%s is documented as personal (%v) but no schema marks it", field, types)
		}
	}
}

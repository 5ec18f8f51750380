package engagement

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The schema compatibility check (docs/events.md, "Versions"). Each event type's schema, flattened into one
// self-contained document (the envelope merged in, every $ref replaced by what it points at), is compared with
// the committed baseline of its version under docs/events/baseline/. Within a version the schema may only
// gain optional fields or change its annotations (descriptions, x-personal); anything else changes which
// events are valid and needs the next version, whose baseline is then recorded beside the old ones.

var updateSchemaBaseline = flag.Bool("update-schema-baseline", false,
	"record docs/events/baseline/<type>.v<N>.json for schemas that changed compatibly or whose version was bumped")

const (
	schemaBaselineDir = "../docs/events/baseline"
	// schemaBaselineCmd is how a baseline is recorded; the failures quote it.
	schemaBaselineCmd = "go test ./engagement -run TestEventSchemasCompatible -update-schema-baseline"
)

// schemaAnnotation reports whether keyword k only annotates (it never changes which events are valid).
func schemaAnnotation(k string) bool {
	switch k {
	case "$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly":
		return true
	}
	return strings.HasPrefix(k, "x-")
}

// flattenEventSchema returns the schema of one event type as one self-contained document: the envelope (the
// root "$ref": "envelope.json") merged into the type's keywords, and every $ref into the envelope's $defs
// replaced by the definition. The result validates exactly the events the pair validates; it fails rather
// than guess when two keywords conflict.
func flattenEventSchema(typeDoc, envelope map[string]any) (map[string]any, error) {
	resolve := func(doc map[string]any, ref string) (map[string]any, map[string]any, error) {
		target := doc
		file, pointer, _ := strings.Cut(ref, "#")
		switch file {
		case "":
		case "envelope.json":
			target = envelope
		default:
			return nil, nil, fmt.Errorf("$ref %q: only envelope.json is known", ref)
		}
		node := any(target)
		for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
			if part == "" {
				continue
			}
			m, ok := node.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("$ref %q: %q is not an object", ref, part)
			}
			if node, ok = m[part]; !ok {
				return nil, nil, fmt.Errorf("$ref %q: no %q", ref, part)
			}
		}
		m, ok := node.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("$ref %q is not a schema", ref)
		}
		return m, target, nil
	}
	var inline func(node any, doc map[string]any, depth int) (any, error)
	inline = func(node any, doc map[string]any, depth int) (any, error) {
		if depth > 32 {
			return nil, errors.New("$ref cycle")
		}
		switch n := node.(type) {
		case []any:
			out := make([]any, len(n))
			for i, v := range n {
				var err error
				if out[i], err = inline(v, doc, depth); err != nil {
					return nil, err
				}
			}
			return out, nil
		case map[string]any:
			out := map[string]any{}
			for k, v := range n {
				if k == "$ref" || k == "$defs" {
					continue
				}
				if k == "properties" || k == "patternProperties" || k == "dependentSchemas" {
					props := map[string]any{} // name → schema: the names are not keywords
					for name, p := range v.(map[string]any) {
						r, err := inline(p, doc, depth)
						if err != nil {
							return nil, fmt.Errorf("%s: %w", name, err)
						}
						props[name] = r
					}
					out[k] = props
					continue
				}
				if k == "enum" || k == "const" || k == "required" || k == "dependentRequired" || schemaAnnotation(k) {
					out[k] = v // values, not schemas
					continue
				}
				r, err := inline(v, doc, depth)
				if err != nil {
					return nil, err
				}
				out[k] = r
			}
			ref, ok := n["$ref"].(string)
			if !ok {
				return out, nil
			}
			target, targetDoc, err := resolve(doc, ref)
			if err != nil {
				return nil, err
			}
			base, err := inline(target, targetDoc, depth+1)
			if err != nil {
				return nil, err
			}
			return mergeSchemas(base.(map[string]any), out)
		}
		return node, nil
	}
	if ref, _ := typeDoc["$ref"].(string); ref != "envelope.json" {
		return nil, fmt.Errorf("the schema's root $ref is %q, want envelope.json", ref)
	}
	env := maps.Clone(envelope)
	for _, k := range []string{"$id", "$schema", "title", "description"} {
		delete(env, k)
	}
	root := maps.Clone(typeDoc)
	delete(root, "$ref")
	flatEnv, err := inline(env, envelope, 0)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	flatType, err := inline(root, typeDoc, 0)
	if err != nil {
		return nil, err
	}
	return mergeSchemas(flatEnv.(map[string]any), flatType.(map[string]any))
}

// mergeSchemas returns one schema that is the conjunction of a and b (both as flattened maps): required
// lists are joined, properties merged one by one, annotations taken from b; any other keyword both set must
// be equal.
func mergeSchemas(a, b map[string]any) (map[string]any, error) {
	out := maps.Clone(a)
	for k, bv := range b {
		av, both := out[k]
		switch {
		case !both || schemaAnnotation(k):
			out[k] = bv
		case k == "required":
			req := slices.Clone(av.([]any))
			for _, r := range bv.([]any) {
				if !slices.Contains(req, r) {
					req = append(req, r)
				}
			}
			out[k] = req
		case k == "properties":
			props := maps.Clone(av.(map[string]any))
			for name, p := range bv.(map[string]any) {
				if ap, ok := props[name]; ok {
					m, err := mergeSchemas(ap.(map[string]any), p.(map[string]any))
					if err != nil {
						return nil, fmt.Errorf("%s: %w", name, err)
					}
					props[name] = m
				} else {
					props[name] = p
				}
			}
			out[k] = props
		case !reflect.DeepEqual(av, bv):
			return nil, fmt.Errorf("keyword %s set twice, to %s and %s", k, jsonText(av), jsonText(bv))
		}
	}
	return out, nil
}

func jsonText(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

func schemaStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, jsonText(x))
	}
	return out
}

// schemaTypes returns the JSON types a "type" keyword allows, nil for any.
func schemaTypes(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		slices.Sort(out)
		return out
	}
	return nil
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

var (
	lowerBounds = map[string]bool{"minimum": true, "exclusiveMinimum": true, "minLength": true, "minItems": true, "minProperties": true}
	upperBounds = map[string]bool{"maximum": true, "exclusiveMaximum": true, "maxLength": true, "maxItems": true, "maxProperties": true}
)

// schemaBreaks lists the changes from old to new (flattened schemas) that change which events are valid:
// everything but new optional fields and annotations. path names the place in the event ("" the root).
func schemaBreaks(path string, old, new map[string]any) []string {
	at := path
	if at == "" {
		at = "the event"
	}
	var out []string
	keys := slices.Sorted(maps.Keys(old))
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if schemaAnnotation(k) {
			continue
		}
		ov, inOld := old[k]
		nv, inNew := new[k]
		switch {
		case k == "properties":
			op, _ := ov.(map[string]any)
			np, _ := nv.(map[string]any)
			for _, name := range slices.Sorted(maps.Keys(op)) {
				child := strings.TrimPrefix(path+"."+name, ".")
				p, ok := np[name]
				if !ok {
					out = append(out, fmt.Sprintf("%s: removed field", child))
					continue
				}
				om, _ := op[name].(map[string]any)
				nm, _ := p.(map[string]any)
				out = append(out, schemaBreaks(child, om, nm)...)
			}
			if open, isBool := old["additionalProperties"].(bool); isBool && !open {
				for _, name := range slices.Sorted(maps.Keys(np)) {
					if _, ok := op[name]; !ok {
						out = append(out, fmt.Sprintf("%s: new field %s where other fields were refused", at, name))
					}
				}
			}
		case k == "required":
			or, nr := schemaStrings(ov), schemaStrings(nv)
			oldProps, _ := old["properties"].(map[string]any)
			for _, r := range nr {
				if slices.Contains(or, r) {
					continue
				}
				name, _ := strconv.Unquote(r)
				if _, existed := oldProps[name]; existed {
					out = append(out, fmt.Sprintf("%s: field %s became required", at, r))
				} else {
					out = append(out, fmt.Sprintf("%s: new required field %s", at, r))
				}
			}
			for _, r := range or {
				if !slices.Contains(nr, r) {
					out = append(out, fmt.Sprintf("%s: field %s no longer required", at, r))
				}
			}
		case k == "type":
			ot, nt := schemaTypes(ov), schemaTypes(nv)
			switch {
			case slices.Equal(ot, nt):
			case ot == nil || (nt != nil && subset(nt, ot)):
				out = append(out, fmt.Sprintf("%s: narrowed type from %s to %s", at, jsonText(ov), jsonText(nv)))
			case nt == nil || subset(ot, nt):
				out = append(out, fmt.Sprintf("%s: widened type from %s to %s", at, jsonText(ov), jsonText(nv)))
			default:
				out = append(out, fmt.Sprintf("%s: changed type from %s to %s", at, jsonText(ov), jsonText(nv)))
			}
		case k == "enum":
			oe, ne := schemaStrings(ov), schemaStrings(nv)
			switch {
			case !inOld:
				out = append(out, fmt.Sprintf("%s: new enum %s", at, jsonText(nv)))
			case !inNew:
				out = append(out, fmt.Sprintf("%s: enum %s removed", at, jsonText(ov)))
			default:
				for _, v := range oe {
					if !slices.Contains(ne, v) {
						out = append(out, fmt.Sprintf("%s: removed enum value %s", at, v))
					}
				}
				for _, v := range ne {
					if !slices.Contains(oe, v) {
						out = append(out, fmt.Sprintf("%s: added enum value %s", at, v))
					}
				}
			}
		case lowerBounds[k] || upperBounds[k]:
			of, _ := ov.(float64)
			nf, _ := nv.(float64)
			tighter := (lowerBounds[k] && nf > of) || (upperBounds[k] && nf < of)
			switch {
			case !inOld:
				out = append(out, fmt.Sprintf("%s: narrowed by a new %s %v", at, k, nv))
			case !inNew:
				out = append(out, fmt.Sprintf("%s: widened: %s %v removed", at, k, ov))
			case of == nf:
			case tighter:
				out = append(out, fmt.Sprintf("%s: narrowed %s from %v to %v", at, k, ov, nv))
			default:
				out = append(out, fmt.Sprintf("%s: widened %s from %v to %v", at, k, ov, nv))
			}
		case k == "items" || k == "additionalProperties" || k == "contains" || k == "propertyNames" || k == "not":
			om, oIsSchema := ov.(map[string]any)
			nm, nIsSchema := nv.(map[string]any)
			if oIsSchema && nIsSchema {
				child := path + "[]"
				if k != "items" {
					child = path + "(" + k + ")"
				}
				out = append(out, schemaBreaks(strings.TrimPrefix(child, "."), om, nm)...)
			} else if !reflect.DeepEqual(ov, nv) {
				out = append(out, fmt.Sprintf("%s: %s changed from %s to %s", at, k, jsonText(ov), jsonText(nv)))
			}
		case !reflect.DeepEqual(ov, nv):
			// const, pattern, format, dependentRequired and the rest: any change changes what is valid.
			switch {
			case !inOld:
				out = append(out, fmt.Sprintf("%s: new %s %s", at, k, jsonText(nv)))
			case !inNew:
				out = append(out, fmt.Sprintf("%s: %s %s removed", at, k, jsonText(ov)))
			default:
				out = append(out, fmt.Sprintf("%s: %s changed from %s to %s", at, k, jsonText(ov), jsonText(nv)))
			}
		}
	}
	return out
}

// baselineName matches a baseline file: <type>.v<N>.json.
var baselineName = regexp.MustCompile(`^(kudos\.[a-z]+\.[a-z]+)\.v([1-9][0-9]*)\.json$`)

// schemaBaselineFile is the baseline file of version v of type typ.
func schemaBaselineFile(typ string, v int) string {
	return typ + ".v" + strconv.Itoa(v) + ".json"
}

// checkSchemaVersions compares the flattened current schemas (by type) and their versions with the
// baselines (by type, then version). It returns what is wrong, and the baselines to record (file name →
// schema): a compatible change or a new version. A type's breaking change without a new version is a
// problem, and so is a change or a new version not yet recorded unless record is set.
func checkSchemaVersions(current map[string]map[string]any, versions map[string]int, baselines map[string]map[int]map[string]any, record bool) (problems []string, write map[string]map[string]any) {
	write = map[string]map[string]any{}
	for _, typ := range slices.Sorted(maps.Keys(baselines)) {
		if _, ok := current[typ]; !ok {
			problems = append(problems, fmt.Sprintf("%s has a baseline but no schema: a type is never removed", typ))
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(current)) {
		cur, v := current[typ], versions[typ]
		if v < 1 {
			problems = append(problems, fmt.Sprintf("%s has no schema version", typ))
			continue
		}
		recorded := baselines[typ]
		last := 0
		for rv := range recorded {
			last = max(last, rv)
		}
		file := schemaBaselineFile(typ, v)
		switch {
		case v < last:
			problems = append(problems, fmt.Sprintf("%s is at version %d, but version %d is recorded: versions only go up", typ, v, last))
		case v > last+1:
			problems = append(problems, fmt.Sprintf("%s jumped from version %d to %d: the next version is %d", typ, last, v, last+1))
		case v == last+1 && record:
			write[file] = cur
		case v == last+1 && last == 0:
			problems = append(problems, fmt.Sprintf("%s (version %d) has no baseline: record it with %s", typ, v, schemaBaselineCmd))
		case v == last+1:
			problems = append(problems, fmt.Sprintf("%s is now version %d but only version %d is recorded: record the new one with %s", typ, v, last, schemaBaselineCmd))
		default: // v == last
			base := recorded[v]
			if breaks := schemaBreaks("", base, cur); len(breaks) > 0 {
				problems = append(problems, fmt.Sprintf("%s changed incompatibly within version %d (bump it in engagement/event_schema.go, then record the new baseline with %s):\n\t%s",
					typ, v, schemaBaselineCmd, strings.Join(breaks, "\n\t")))
			} else if !reflect.DeepEqual(base, cur) {
				if record {
					write[file] = cur
				} else {
					problems = append(problems, fmt.Sprintf("%s changed compatibly within version %d: record it with %s", typ, v, schemaBaselineCmd))
				}
			}
		}
	}
	return problems, write
}

func readJSONFile(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return m, nil
}

// readSchemaBaselines reads docs/events/baseline: type → version → flattened schema.
func readSchemaBaselines(dir string) (map[string]map[int]map[string]any, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[int]map[string]any{}
	for _, path := range files {
		m := baselineName.FindStringSubmatch(filepath.Base(path))
		if m == nil {
			return nil, fmt.Errorf("%s is not named <type>.v<N>.json", path)
		}
		v, _ := strconv.Atoi(m[2])
		doc, err := readJSONFile(path)
		if err != nil {
			return nil, err
		}
		if out[m[1]] == nil {
			out[m[1]] = map[int]map[string]any{}
		}
		out[m[1]][v] = doc
	}
	return out, nil
}

// writeSchemaFile writes a schema as the files under docs/events are written: two-space indent, keys sorted,
// a final newline.
func writeSchemaFile(path string, doc map[string]any) error {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(buf.String()), 0o644)
}

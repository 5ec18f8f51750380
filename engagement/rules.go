package engagement

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// DefaultArm is the A/B arm every user is in when the rules list no arms.
const DefaultArm = "a"

// Rules is the rules file (docs/architecture.md, "Scoring" and "The rules file") as data: base points per
// interaction and their limits, and in Loyalty the economics the ledger (package rewards) applies: the
// monthly cap, tiers, multipliers and privileges, the pending window, expiry and the catalogue.
// JSON field names are the rules file's; limits with a _s suffix are seconds.
type Rules struct {
	Watch          WatchRule    `json:"watch"`
	Comment        LimitRule    `json:"comment"`
	Poll           PointsRule   `json:"poll"`
	Quiz           QuizRule     `json:"quiz"`
	Feedback       PointsRule   `json:"feedback"`
	Purchase       PurchaseRule `json:"purchase"`
	QuestionAsk    LimitRule    `json:"question_ask"`
	QuestionUpvote LimitRule    `json:"question_upvote"`
	// ReplayShare scales the points of interactions on ended streams (replays), rounded down, so 0.5 of a
	// 1-point comment is nothing. Purchases are not scaled.
	ReplayShare float64 `json:"replay_share"`
	// Arms are the A/B arms users are split into by ArmFor; empty means the single arm DefaultArm.
	Arms []string `json:"arms,omitempty"`
	// Variants change sections of the rules for one arm; ForArm applies them.
	Variants map[string]RulesOverride `json:"variants,omitempty"`
	// Loyalty is the economics, the same for every arm.
	Loyalty Economics `json:"loyalty"`
	// ShopAwards are the kinds of points the shop's backend awards (POST /api/v1/points/award: reviews,
	// shares), by kind; a kind listed in a rules file replaces its default whole. The same for every arm.
	ShopAwards map[string]ShopAwardRule `json:"shop_awards"`
}

// WatchRule scores watching: PerMinute points per full minute watched, at most MaxPerStream per stream.
type WatchRule struct {
	PerMinute    int64 `json:"per_minute"`
	MaxPerStream int64 `json:"max_per_stream"`
}

// LimitRule scores a repeatable interaction: Points each, at most one scored per MinIntervalS seconds and
// MaxPerStream per stream per user; the rest score nothing.
type LimitRule struct {
	Points       int64 `json:"points"`
	MinIntervalS int64 `json:"min_interval_s"`
	MaxPerStream int64 `json:"max_per_stream"`
}

// PointsRule scores an interaction that counts once (per poll, per stream): Points.
type PointsRule struct {
	Points int64 `json:"points"`
}

// QuizRule scores a correct answer Kahoot's way: round(Max × (1 − (t/T)/2)) for an answer after t of the
// time limit T, plus StreakBonus for each correct answer in a row before this one, at most StreakBonusMax.
type QuizRule struct {
	Max            int64 `json:"max"`
	StreakBonus    int64 `json:"streak_bonus"`
	StreakBonusMax int64 `json:"streak_bonus_max"`
}

// PurchaseRule scores a purchase: PerYuan points per whole yuan (100 fen) paid.
type PurchaseRule struct {
	PerYuan int64 `json:"per_yuan"`
}

// RulesOverride replaces sections of Rules for one A/B arm; nil sections keep the base rules. In a rules
// file a variant's section is merged field by field onto the base section, so it may name one field only.
type RulesOverride struct {
	Watch          *WatchRule    `json:"watch,omitempty"`
	Comment        *LimitRule    `json:"comment,omitempty"`
	Poll           *PointsRule   `json:"poll,omitempty"`
	Quiz           *QuizRule     `json:"quiz,omitempty"`
	Feedback       *PointsRule   `json:"feedback,omitempty"`
	Purchase       *PurchaseRule `json:"purchase,omitempty"`
	QuestionAsk    *LimitRule    `json:"question_ask,omitempty"`
	QuestionUpvote *LimitRule    `json:"question_upvote,omitempty"`
	ReplayShare    *float64      `json:"replay_share,omitempty"`
}

// DefaultRules returns the default scoring table (docs/architecture.md, "Scoring"), one arm.
func DefaultRules() Rules {
	return Rules{
		Watch:          WatchRule{PerMinute: 1, MaxPerStream: 60},
		Comment:        LimitRule{Points: 1, MinIntervalS: 30, MaxPerStream: 10},
		Poll:           PointsRule{Points: 5},
		Quiz:           QuizRule{Max: 100, StreakBonus: 10, StreakBonusMax: 50},
		Feedback:       PointsRule{Points: 5},
		Purchase:       PurchaseRule{PerYuan: 1},
		QuestionAsk:    LimitRule{Points: 2, MinIntervalS: 30, MaxPerStream: 5},
		QuestionUpvote: LimitRule{Points: 1, MinIntervalS: 5, MaxPerStream: 10},
		ReplayShare:    0.5,
		Loyalty:        DefaultEconomics(),
		ShopAwards:     DefaultShopAwards(),
	}
}

// LoadRules reads a rules file: JSON, or YAML when its name ends in .yaml or .yml (or, with another ending,
// when it does not start with "{"). Fields it leaves out keep DefaultRules' values. Unknown keys, values of
// the wrong type and values that break a rule are errors: a *RulesError (errors.Is ErrInvalid; FieldOf
// names the first field) listing every problem found, each with its field path.
func LoadRules(path string) (Rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("read rules %s: %w", path, err)
	}
	yamlFile := isYAMLFile(path, raw)
	r, err := parseRulesAs(raw, yamlFile)
	if err != nil {
		var re *RulesError
		if errors.As(err, &re) {
			re.File = path
			return Rules{}, re
		}
		return Rules{}, fmt.Errorf("load rules %s: %w", path, err)
	}
	return r, nil
}

// isYAMLFile says how to read a rules file: by its name's ending, else by its first character.
func isYAMLFile(path string, raw []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return false
	case ".yaml", ".yml":
		return true
	}
	return !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n\ufeff"), []byte("{"))
}

// RulesError is every problem of a rules file: each Problem names its field path ("loyalty.tiers[1].threshold")
// and says why. It matches ErrInvalid; FieldOf and errors.As(*Error) see the first problem.
type RulesError struct {
	File     string   // the file, when read by LoadRules
	Problems []*Error // in the order found; at least one
}

func (e *RulesError) Error() string {
	var b strings.Builder
	b.WriteString("invalid rules")
	if e.File != "" {
		b.WriteString(" file " + e.File)
	}
	fmt.Fprintf(&b, " (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Unwrap returns the problems, so errors.Is(err, ErrInvalid) and FieldOf see them (the first first).
func (e *RulesError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// parseRules decodes a JSON rules file (tests and callers with bytes in hand).
func parseRules(raw []byte) (Rules, error) { return parseRulesAs(raw, false) }

// parseRulesAs decodes raw (YAML when yamlFile) onto DefaultRules, merging each variant onto the base
// sections, and validates. Every unknown key is reported with its path; a value of the wrong type stops the
// decoding (the decoder reports the first); then every rule broken is reported.
func parseRulesAs(raw []byte, yamlFile bool) (Rules, error) {
	if yamlFile {
		j, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			return Rules{}, &RulesError{Problems: []*Error{Invalid("", "not valid YAML: %v", err)}}
		}
		raw = j
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Rules{}, &RulesError{Problems: []*Error{Invalid("", "not valid JSON: %v", err)}}
	}
	var problems []*Error
	unknownKeys(doc, reflect.TypeFor[Rules](), "", &problems)
	decode := rulesDecodeStrict
	if len(problems) > 0 {
		decode = rulesDecodeLenient // the unknown keys are reported; carry on to report the rest too
	}

	var file struct {
		Rules
		Variants map[string]json.RawMessage `json:"variants"`
	}
	file.Rules = DefaultRules()
	// Lists replace the defaults whole (encoding/json would decode onto the default elements).
	file.Loyalty.Tiers, file.Loyalty.Catalogue = nil, nil
	if err := decode(raw, &file); err != nil {
		return Rules{}, &RulesError{Problems: append(problems, Invalid(rulesErrorField(err), "%v", err))}
	}
	r := file.Rules
	def := DefaultEconomics()
	if r.Loyalty.Tiers == nil {
		r.Loyalty.Tiers = def.Tiers
	}
	if r.Loyalty.Catalogue == nil {
		r.Loyalty.Catalogue = def.Catalogue
	}
	r.Variants = nil
	for _, arm := range slices.Sorted(maps.Keys(file.Variants)) {
		base := r
		ov := RulesOverride{
			Watch: &base.Watch, Comment: &base.Comment, Poll: &base.Poll, Quiz: &base.Quiz,
			Feedback: &base.Feedback, Purchase: &base.Purchase, QuestionAsk: &base.QuestionAsk,
			QuestionUpvote: &base.QuestionUpvote, ReplayShare: &base.ReplayShare,
		}
		if err := decode(file.Variants[arm], &ov); err != nil {
			field := "variants." + arm
			if f := rulesErrorField(err); f != "" {
				field += "." + f
			}
			return Rules{}, &RulesError{Problems: append(problems, Invalid(field, "%v", err))}
		}
		if r.Variants == nil {
			r.Variants = map[string]RulesOverride{}
		}
		r.Variants[arm] = ov
	}
	var re *RulesError
	if err := r.Validate(); errors.As(err, &re) {
		problems = append(problems, re.Problems...)
	}
	if len(problems) > 0 {
		return Rules{}, &RulesError{Problems: problems}
	}
	return r, nil
}

// unknownKeys reports every key of doc (decoded JSON) that t has no field for, with its path, walking into
// the fields, lists and maps t has. Names must match the json tags exactly (encoding/json alone would also
// take "Watch" for "watch").
func unknownKeys(doc any, t reflect.Type, path string, out *[]*Error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return // a type error: the decoder reports it
		}
		fields := map[string]reflect.Type{}
		jsonFields(t, fields)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				*out = append(*out, Invalid(joinPath(path, k), "unknown key %q (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(fields)), ", ")))
				continue
			}
			unknownKeys(obj[k], ft, joinPath(path, k), out)
		}
	case reflect.Slice:
		list, ok := doc.([]any)
		if !ok {
			return
		}
		for i, v := range list {
			unknownKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			unknownKeys(obj[k], t.Elem(), joinPath(path, k), out)
		}
	}
}

// jsonFields collects the JSON names of t's fields (embedded structs' fields flattened) and their types.
func jsonFields(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, into)
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// rulesErrorField names the field a decoding error is about, when encoding/json says.
func rulesErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return strings.TrimPrefix(te.Field, "Rules.") // the file is decoded through an embedded Rules
	}
	return ""
}

func rulesDecodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func rulesDecodeLenient(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// Validate checks every value, variants and economics included, and reports every problem (a *RulesError).
func (r Rules) Validate() error {
	var problems []*Error
	add := func(field, format string, args ...any) {
		problems = append(problems, Invalid(field, format, args...))
	}
	r.validateBase("", add)
	seen := map[string]bool{}
	for i, a := range r.Arms {
		if a == "" || seen[a] {
			add(fmt.Sprintf("arms[%d]", i), "arm names must be unique and not empty")
		}
		seen[a] = true
	}
	for _, arm := range slices.Sorted(maps.Keys(r.Variants)) {
		if !slices.Contains(r.arms(), arm) {
			add("variants."+arm, "variant %q is not one of the arms %v", arm, r.arms())
			continue
		}
		r.ForArm(arm).validateBase("variants."+arm+".", add)
	}
	r.Loyalty.validate("loyalty.", append(EarnSources(), slices.Sorted(maps.Keys(r.ShopAwards))...), add)
	validateShopAwards(r.ShopAwards, add)
	if len(problems) > 0 {
		return &RulesError{Problems: problems}
	}
	return nil
}

func (r Rules) validateBase(prefix string, add func(field, format string, args ...any)) {
	type check struct {
		field string
		ok    bool
		want  string
	}
	checks := []check{
		{"watch.per_minute", r.Watch.PerMinute >= 0, ">= 0"},
		{"watch.max_per_stream", r.Watch.MaxPerStream >= 0, ">= 0"},
		{"poll.points", r.Poll.Points >= 0, ">= 0"},
		{"quiz.max", r.Quiz.Max >= 0, ">= 0"},
		{"quiz.streak_bonus", r.Quiz.StreakBonus >= 0, ">= 0"},
		{"quiz.streak_bonus_max", r.Quiz.StreakBonusMax >= 0, ">= 0"},
		{"feedback.points", r.Feedback.Points >= 0, ">= 0"},
		{"purchase.per_yuan", r.Purchase.PerYuan >= 0, ">= 0"},
		{"replay_share", r.ReplayShare >= 0 && r.ReplayShare <= 1, "between 0 and 1"},
	}
	for name, l := range map[string]LimitRule{"comment": r.Comment, "question_ask": r.QuestionAsk, "question_upvote": r.QuestionUpvote} {
		checks = append(checks,
			check{name + ".points", l.Points >= 0, ">= 0"},
			check{name + ".min_interval_s", l.MinIntervalS >= 0, ">= 0"},
			check{name + ".max_per_stream", l.MaxPerStream >= 0, ">= 0"})
	}
	// Map iteration above is unordered; report failures in field-name order for stable messages.
	slices.SortStableFunc(checks, func(a, b check) int { return strings.Compare(a.field, b.field) })
	for _, c := range checks {
		if !c.ok {
			add(prefix+c.field, "must be %s", c.want)
		}
	}
}

func (r Rules) arms() []string {
	if len(r.Arms) == 0 {
		return []string{DefaultArm}
	}
	return r.Arms
}

// ArmFor returns user's A/B arm: FNV-1a (32-bit) of the user id modulo the number of arms, so a user stays
// in one arm for as long as the list of arms is unchanged.
func (r Rules) ArmFor(user string) string {
	arms := r.arms()
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return arms[h.Sum32()%uint32(len(arms))]
}

// ForArm returns the rules as arm sees them: the base with arm's variant applied, without arms or variants.
// An arm without a variant gets the base rules.
func (r Rules) ForArm(arm string) Rules {
	out := r
	out.Arms, out.Variants = nil, nil
	v, ok := r.Variants[arm]
	if !ok {
		return out
	}
	if v.Watch != nil {
		out.Watch = *v.Watch
	}
	if v.Comment != nil {
		out.Comment = *v.Comment
	}
	if v.Poll != nil {
		out.Poll = *v.Poll
	}
	if v.Quiz != nil {
		out.Quiz = *v.Quiz
	}
	if v.Feedback != nil {
		out.Feedback = *v.Feedback
	}
	if v.Purchase != nil {
		out.Purchase = *v.Purchase
	}
	if v.QuestionAsk != nil {
		out.QuestionAsk = *v.QuestionAsk
	}
	if v.QuestionUpvote != nil {
		out.QuestionUpvote = *v.QuestionUpvote
	}
	if v.ReplayShare != nil {
		out.ReplayShare = *v.ReplayShare
	}
	return out
}

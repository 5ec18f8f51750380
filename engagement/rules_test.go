package engagement

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestDefaultRulesMatchDesign(t *testing.T) {
	r := DefaultRules()
	if err := r.Validate(); err != nil {
		t.Fatalf("DefaultRules invalid: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"watch", r.Watch, WatchRule{PerMinute: 1, MaxPerStream: 60}},
		{"comment", r.Comment, LimitRule{Points: 1, MinIntervalS: 30, MaxPerStream: 10}},
		{"poll", r.Poll, PointsRule{Points: 5}},
		{"quiz", r.Quiz, QuizRule{Max: 100, StreakBonus: 10, StreakBonusMax: 50}},
		{"feedback", r.Feedback, PointsRule{Points: 5}},
		{"purchase", r.Purchase, PurchaseRule{PerYuan: 1}},
		{"replay share", r.ReplayShare, 0.5},
		{"arms", r.arms(), []string{DefaultArm}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadRules(t *testing.T) {
	r, err := LoadRules("testdata/rules.json")
	if err != nil {
		t.Fatalf("LoadRules: %v", err)
	}
	if r.Watch != (WatchRule{PerMinute: 2, MaxPerStream: 90}) || r.Poll.Points != 6 || r.ReplayShare != 0.25 ||
		r.QuestionAsk != (LimitRule{Points: 3, MinIntervalS: 60, MaxPerStream: 4}) {
		t.Fatalf("base rules %+v", r)
	}
	a, b := r.ForArm("a"), r.ForArm("b")
	if !reflect.DeepEqual(a, withoutArms(r)) {
		t.Errorf("arm a without a variant = %+v, want the base", a)
	}
	// Variant b names quiz.max only: the rest of its quiz section is the base's.
	if b.Quiz != (QuizRule{Max: 200, StreakBonus: 10, StreakBonusMax: 50}) || b.ReplayShare != 0.5 || b.Watch != r.Watch {
		t.Errorf("arm b = %+v", b)
	}
	if b.Arms != nil || b.Variants != nil {
		t.Errorf("ForArm kept arms or variants: %+v", b)
	}

	partial, err := LoadRules("testdata/rules_partial.json")
	if err != nil {
		t.Fatalf("LoadRules partial: %v", err)
	}
	want := DefaultRules()
	want.Comment.MaxPerStream = 20
	if !reflect.DeepEqual(partial, want) {
		t.Errorf("partial rules = %+v, want defaults with comment.max_per_stream 20", partial)
	}
}

func withoutArms(r Rules) Rules {
	r.Arms, r.Variants = nil, nil
	return r
}

func TestLoadRulesErrors(t *testing.T) {
	tests := []struct {
		file      string
		wantField string
	}{
		{"testdata/rules_invalid.json", "quiz.max"},
		{"testdata/rules_unknown_field.json", "quiz.maximum"},
	}
	for _, tt := range tests {
		_, err := LoadRules(tt.file)
		if !errors.Is(err, ErrInvalid) || FieldOf(err) != tt.wantField {
			t.Errorf("LoadRules(%s) = %v (field %q), want ErrInvalid naming %q", tt.file, err, FieldOf(err), tt.wantField)
		}
	}
	if _, err := LoadRules("testdata/no-such-file.json"); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v, want a read error", err)
	}
}

func TestParseRulesValidation(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantField string
	}{
		{"negative watch", `{"watch":{"per_minute":-1}}`, "watch.per_minute"},
		{"negative comment interval", `{"comment":{"min_interval_s":-5}}`, "comment.min_interval_s"},
		{"negative upvote limit", `{"question_upvote":{"max_per_stream":-1}}`, "question_upvote.max_per_stream"},
		{"replay share above 1", `{"replay_share":1.5}`, "replay_share"},
		{"negative replay share", `{"replay_share":-0.1}`, "replay_share"},
		{"wrong type", `{"quiz":{"max":"lots"}}`, "quiz.max"},
		{"not JSON", `{"quiz":`, ""},
		{"duplicate arm", `{"arms":["a","a"]}`, "arms[1]"},
		{"empty arm", `{"arms":[""]}`, "arms[0]"},
		{"variant of no arm", `{"arms":["a","b"],"variants":{"c":{"poll":{"points":1}}}}`, "variants.c"},
		{"variant of the default arm is fine", `{"variants":{"a":{"poll":{"points":1}}}}`, "-"},
		{"invalid variant value", `{"arms":["a","b"],"variants":{"b":{"comment":{"points":-1}}}}`, "variants.b.comment.points"},
		{"variant wrong type", `{"arms":["a","b"],"variants":{"b":{"quiz":{"max":true}}}}`, "variants.b.quiz.max"},
		{"variant unknown field", `{"arms":["a","b"],"variants":{"b":{"quiz":{"mx":1}}}}`, "variants.b.quiz.mx"},
		{"unknown top-level key", `{"loyalty":{"monthly_cap":5},"bonus":1}`, "bonus"},
		{"key in the wrong case", `{"Watch":{"per_minute":1}}`, "Watch"},
		{"negative cap", `{"loyalty":{"monthly_cap":-1}}`, "loyalty.monthly_cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRules([]byte(tt.raw))
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("parseRules = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || FieldOf(err) != tt.wantField {
				t.Fatalf("parseRules = %v (field %q), want ErrInvalid naming %q", err, FieldOf(err), tt.wantField)
			}
		})
	}
}

func TestArmFor(t *testing.T) {
	two := Rules{Arms: []string{"a", "b"}}
	three := Rules{Arms: []string{"x", "y", "z"}}
	tests := []struct {
		rules Rules
		user  string
		want  string
	}{
		// FNV-1a 32: "ann" 355060760, "cat" 108289031, "user-42" 39875499, "" 2166136261 (the offset basis).
		{two, "ann", "a"}, {two, "cat", "b"}, {two, "user-42", "b"},
		{three, "ann", "z"}, {three, "user-42", "x"}, {three, "", "y"},
		{DefaultRules(), "anyone", DefaultArm},
	}
	for _, tt := range tests {
		if got := tt.rules.ArmFor(tt.user); got != tt.want {
			t.Errorf("ArmFor(%q) with arms %v = %q, want %q", tt.user, tt.rules.Arms, got, tt.want)
		}
		if tt.rules.ArmFor(tt.user) != tt.rules.ArmFor(tt.user) {
			t.Errorf("ArmFor(%q) is not stable", tt.user)
		}
	}
	// The split is even enough: each of three arms gets a third of 30,000 users, give or take 3%.
	counts := map[string]int{}
	const users = 30000
	for i := range users {
		counts[three.ArmFor(fmt.Sprint("user-", i))]++
	}
	for _, arm := range three.Arms {
		if share := float64(counts[arm]) / users; math.Abs(share-1.0/3) > 0.03 {
			t.Errorf("arm %s got %.3f of users", arm, share)
		}
	}
}

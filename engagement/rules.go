package engagement

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strings"
)

// DefaultArm is the A/B arm every user is in when the rules list no arms.
const DefaultArm = "a"

// Rules is the scoring table (docs/architecture.md, "Scoring") as data: base points per interaction and
// their limits. The monthly cap, tiers and multipliers belong to the ledger (package rewards), not here.
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
	}
}

// LoadRules reads a JSON rules file. Fields it leaves out keep DefaultRules' values; unknown fields and
// values that break a rule are errors (errors.Is ErrInvalid; FieldOf names the field).
func LoadRules(path string) (Rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("read rules %s: %w", path, err)
	}
	r, err := parseRules(raw)
	if err != nil {
		return Rules{}, fmt.Errorf("load rules %s: %w", path, err)
	}
	return r, nil
}

// parseRules decodes raw onto DefaultRules, merging each variant onto the base sections, and validates.
func parseRules(raw []byte) (Rules, error) {
	var file struct {
		Rules
		Variants map[string]json.RawMessage `json:"variants"`
	}
	file.Rules = DefaultRules()
	if err := rulesDecodeStrict(raw, &file); err != nil {
		return Rules{}, Invalid(rulesErrorField(err), "rules: %v", err)
	}
	r := file.Rules
	r.Variants = nil
	for arm, vraw := range file.Variants {
		base := r
		ov := RulesOverride{
			Watch: &base.Watch, Comment: &base.Comment, Poll: &base.Poll, Quiz: &base.Quiz,
			Feedback: &base.Feedback, Purchase: &base.Purchase, QuestionAsk: &base.QuestionAsk,
			QuestionUpvote: &base.QuestionUpvote, ReplayShare: &base.ReplayShare,
		}
		if err := rulesDecodeStrict(vraw, &ov); err != nil {
			field := "variants." + arm
			if f := rulesErrorField(err); f != "" {
				field += "." + f
			}
			return Rules{}, Invalid(field, "rules variant %s: %v", arm, err)
		}
		if r.Variants == nil {
			r.Variants = map[string]RulesOverride{}
		}
		r.Variants[arm] = ov
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
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

// Validate checks every value, variants included, and names the first field at fault.
func (r Rules) Validate() error {
	if err := r.validateBase(""); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, a := range r.Arms {
		if a == "" || seen[a] {
			return Invalid(fmt.Sprintf("arms[%d]", i), "arm names must be unique and not empty")
		}
		seen[a] = true
	}
	for arm := range r.Variants {
		if !slices.Contains(r.arms(), arm) {
			return Invalid("variants."+arm, "variant %q is not one of the arms %v", arm, r.arms())
		}
		if err := r.ForArm(arm).validateBase("variants." + arm + "."); err != nil {
			return err
		}
	}
	return nil
}

func (r Rules) validateBase(prefix string) error {
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
	// Map iteration above is unordered; report the first failure in field-name order for stable messages.
	slices.SortStableFunc(checks, func(a, b check) int {
		switch {
		case a.field < b.field:
			return -1
		case a.field > b.field:
			return 1
		}
		return 0
	})
	for _, c := range checks {
		if !c.ok {
			return Invalid(prefix+c.field, "rules: %s%s must be %s", prefix, c.field, c.want)
		}
	}
	return nil
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

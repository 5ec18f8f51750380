package engagement

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

func TestDefaultEconomicsArePlaybook(t *testing.T) {
	e := DefaultRules().Loyalty
	if e.MonthlyCap != 1000 || e.TierBasis != rewards.BasisPoints || e.PendingDays != 7 || e.ExpiryMonths != 12 || e.CapSources != nil {
		t.Fatalf("default economics %+v", e)
	}
	if !reflect.DeepEqual(e.Tiers, rewards.DefaultTiers()) {
		t.Errorf("default tiers %+v", e.Tiers)
	}
	if DefaultRules().Purchase.PerYuan != 1 {
		t.Errorf("1 yuan is not 1 point")
	}
	cfg := e.LedgerConfig()
	if !reflect.DeepEqual(cfg.Catalogue, rewards.DefaultCatalogue()) {
		t.Errorf("default catalogue %+v, want rewards.DefaultCatalogue", cfg.Catalogue)
	}
	if cfg.ReturnWindow != 7*24*time.Hour || cfg.ExpiryMonths != 12 || cfg.MonthlyCap != 1000 {
		t.Errorf("ledger config %+v", cfg)
	}
	if _, err := rewards.NewLedger(nil, cfg); err != nil {
		t.Errorf("the default economics make no ledger: %v", err)
	}
}

// The example committed for shops is valid, read as YAML, and says what it says.
func TestExampleRulesFile(t *testing.T) {
	path := filepath.Join("..", "docs", "rules.example.yaml")
	r, err := LoadRules(path)
	if err != nil {
		t.Fatalf("LoadRules(%s): %v", path, err)
	}
	e := r.Loyalty
	if e.MonthlyCap != 1000 || e.TierBasis != rewards.BasisSpend || len(e.Tiers) != 3 || len(e.Catalogue) != 4 {
		t.Fatalf("example economics %+v", e)
	}
	if got := e.Tiers[2].Privileges; !reflect.DeepEqual(got, []string{"优先客服", "新品试用", "包邮"}) {
		t.Errorf("gold privileges %q", got)
	}
	if e.Catalogue[3].ID != "tote-bag" || *e.Catalogue[3].Cost != 2500 || e.Catalogue[3].PerUserLimit != 1 {
		t.Errorf("tote bag %+v", e.Catalogue[3])
	}
	if _, err := rewards.NewLedger(nil, e.LedgerConfig()); err != nil {
		t.Errorf("the example makes no ledger: %v", err)
	}
}

// The same file as JSON and as YAML (by extension, and by content without one) reads the same.
func TestRulesJSONAndYAMLAgree(t *testing.T) {
	dir := t.TempDir()
	jsonText := `{"poll":{"points":7},"loyalty":{"monthly_cap":500,"tier_basis":"spend","tiers":[` +
		`{"tier":"bronze","threshold":0,"multiplier":1},{"tier":"vip","threshold":300,"multiplier":1.5,"privileges":["包邮"]}],` +
		`"catalogue":[{"id":"x","title":"X","cost":10,"kind":"gift"}]}}`
	yamlText := "poll: {points: 7}\nloyalty:\n  monthly_cap: 500\n  tier_basis: spend\n  tiers:\n" +
		"    - {tier: bronze, threshold: 0, multiplier: 1}\n    - {tier: vip, threshold: 300, multiplier: 1.5, privileges: [包邮]}\n" +
		"  catalogue:\n    - {id: x, title: X, cost: 10, kind: gift}\n"
	files := map[string]string{"r.json": jsonText, "r.yaml": yamlText, "r.yml": yamlText, "rules": yamlText, "rules.conf": jsonText}
	var first *Rules
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(files[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := LoadRules(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Poll.Points != 7 || r.Loyalty.MonthlyCap != 500 || r.Loyalty.Tiers[1].Privileges[0] != "包邮" || r.Loyalty.PendingDays != 7 {
			t.Fatalf("%s read as %+v", name, r.Loyalty)
		}
		if first == nil {
			first = &r
		} else if !reflect.DeepEqual(*first, r) {
			t.Errorf("%s reads otherwise than the first file: %+v vs %+v", name, r, *first)
		}
	}
}

// A bad file is refused with every problem, each naming its field and saying why; the file is named.
func TestRulesFileReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := `
loyalty:
  monthly_cap: -5
  cap_sources: [watch, likes, watch]
  tier_basis: money
  tiers:
    - {tier: bronze, threshold: 0, multiplier: 1}
    - {tier: gold, threshold: 8000, multiplier: 1.25, privileges: [包邮, ""]}
    - {tier: silver, threshold: 3000, multiplier: 0.5}
  pending_days: -1
  expiry_months: 0
  catalogue:
    - {id: a, title: A}
    - {id: a, title: B, cost: 0, kind: coupon}
    - {id: c, title: C, cost: 5, kind: voucher, stock: -1}
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadRules(path)
	var re *RulesError
	if !errors.As(err, &re) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadRules = %v, want a *RulesError", err)
	}
	if re.File != path || !strings.Contains(err.Error(), path) {
		t.Errorf("the error does not name the file: %v", err)
	}
	want := []string{
		"loyalty.monthly_cap", "loyalty.cap_sources[1]", "loyalty.cap_sources[2]", "loyalty.tier_basis",
		"loyalty.tiers[1].privileges[1]", "loyalty.tiers[2].threshold", "loyalty.tiers[2].multiplier",
		"loyalty.pending_days", "loyalty.expiry_months",
		"loyalty.catalogue[0].cost", "loyalty.catalogue[0].kind", "loyalty.catalogue[1].id", "loyalty.catalogue[1].cost", "loyalty.catalogue[1].discount_fen",
		"loyalty.catalogue[2].kind", "loyalty.catalogue[2].stock",
	}
	var got []string
	for _, p := range re.Problems {
		got = append(got, p.Field)
		if p.Message == "" {
			t.Errorf("%s: no reason given", p.Field)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems at\n %q\nwant\n %q\n(%v)", got, want, err)
	}
	if FieldOf(err) != "loyalty.monthly_cap" {
		t.Errorf("FieldOf = %q, want the first problem's field", FieldOf(err))
	}
	for _, say := range []string{"does not exceed the threshold before it (8000)", "is missing", `"likes" is not a source`} {
		if !strings.Contains(err.Error(), say) {
			t.Errorf("the error does not say %q: %v", say, err)
		}
	}
}

func TestRulesFileUnknownKeysAll(t *testing.T) {
	_, err := parseRulesAs([]byte("loyalty:\n  monthly_cap: 10\n  monthy_cap: 5\n  tiers:\n    - {tier: bronze, threshold: 0, multiplier: 1, perks: [x]}\n  catalogue:\n    - {id: a, title: A, cost: 1, kind: gift, remaining: 3}\nextra: 1\n"), true)
	var re *RulesError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range re.Problems {
		got = append(got, p.Field)
	}
	want := []string{"extra", "loyalty.catalogue[0].remaining", "loyalty.monthy_cap", "loyalty.tiers[0].perks"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unknown keys at %q, want %q", got, want)
	}
}

func TestRulesFileBadSyntax(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"duplicate YAML key", "poll: {points: 1}\npoll: {points: 2}\n"},
		{"YAML tabs", "poll:\n\tpoints: 1\n"},
		{"wrong type", "loyalty: {monthly_cap: lots}\n"},
		{"a list for the section", "loyalty: [1, 2]\n"},
	}
	for _, tt := range tests {
		if _, err := parseRulesAs([]byte(tt.raw), true); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
	_, err := parseRulesAs([]byte("loyalty: {monthly_cap: lots}\n"), true)
	if FieldOf(err) != "loyalty.monthly_cap" {
		t.Errorf("wrong type names %q (%v), want loyalty.monthly_cap", FieldOf(err), err)
	}
}

// Lists in the file replace the defaults whole; sections left out keep theirs.
func TestRulesFileListsReplaceDefaults(t *testing.T) {
	r, err := parseRules([]byte(`{"loyalty":{"tiers":[{"tier":"member","threshold":0,"multiplier":1}],"catalogue":[{"id":"x","title":"X","cost":3,"kind":"gift"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Loyalty.Tiers) != 1 || r.Loyalty.Tiers[0].Tier != "member" || r.Loyalty.Tiers[0].Privileges != nil {
		t.Errorf("tiers %+v", r.Loyalty.Tiers)
	}
	if len(r.Loyalty.Catalogue) != 1 || r.Loyalty.MonthlyCap != 1000 || r.Loyalty.ExpiryMonths != 12 {
		t.Errorf("loyalty %+v", r.Loyalty)
	}
	// Sources outside the cap reach the ledger as CapSources.
	r, err = parseRules([]byte(`{"loyalty":{"cap_sources":["watch","comment"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Loyalty.LedgerConfig().CapSources; !reflect.DeepEqual(got, []string{"watch", "comment"}) {
		t.Errorf("CapSources %q", got)
	}
}

// The file's catalogue follows PUT /api/v1/catalogue's policy too (ids, a gift without amounts, a coupon's
// minimum spend), each problem under its loyalty.catalogue path.
func TestRulesFileCatalogueAsPut(t *testing.T) {
	_, err := parseRulesAs([]byte(`loyalty:
  catalogue:
    - {id: "bad id!", title: A, cost: 1, kind: gift}
    - {id: g, title: G, cost: 1, kind: gift, discount_fen: 100}
    - {id: c, title: C, cost: 1, kind: coupon, discount_fen: 500, min_spend_fen: 100}
    - {id: ok, title: OK, cost: 1, kind: coupon, discount_fen: 500, min_spend_fen: 1000}
`), true)
	var re *RulesError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range re.Problems {
		got = append(got, p.Field)
		if strings.Contains(p.Message, "items[") {
			t.Errorf("%s: the message speaks of the HTTP body: %q", p.Field, p.Message)
		}
	}
	want := []string{"loyalty.catalogue[0].id", "loyalty.catalogue[1].discount_fen", "loyalty.catalogue[2].min_spend_fen"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems at %q, want %q (%v)", got, want, err)
	}
}

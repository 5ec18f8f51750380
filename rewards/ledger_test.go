package rewards

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   error
	}{
		{"zero value gives defaults", func(*Config) {}, nil},
		{"negative cap", func(c *Config) { c.MonthlyCap = -1 }, ErrInvalid},
		{"first tier above zero", func(c *Config) { c.Tiers = []TierRule{{Tier: "x", Threshold: 5, Multiplier: 1}} }, ErrInvalid},
		{"thresholds not ascending", func(c *Config) {
			c.Tiers = []TierRule{{Tier: "a", Multiplier: 1}, {Tier: "b", Threshold: 10, Multiplier: 1}, {Tier: "c", Threshold: 10, Multiplier: 1}}
		}, ErrInvalid},
		{"multiplier below one", func(c *Config) { c.Tiers = []TierRule{{Tier: "a", Multiplier: 0.5}} }, ErrInvalid},
		{"reward without cost", func(c *Config) { c.Catalogue = []Reward{{ID: "r"}} }, ErrInvalid},
		{"duplicate reward", func(c *Config) { c.Catalogue = []Reward{{ID: "r", Cost: 1}, {ID: "r", Cost: 2}} }, ErrInvalid},
		{"negative window", func(c *Config) { c.ReturnWindow = -time.Hour }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			tt.mutate(&cfg)
			_, err := NewLedger(nil, cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewLedger = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	l, err := NewLedger(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.MonthlyCap(); got != 1000 {
		t.Errorf("MonthlyCap = %d, want 1000", got)
	}
	rs := l.Rewards()
	if len(rs) < 3 || len(rs) > 4 {
		t.Fatalf("default catalogue has %d rewards, want 3–4", len(rs))
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Cost < rs[i-1].Cost {
			t.Errorf("Rewards not ordered by cost: %v", rs)
		}
	}
	p := l.policy(time.Date(2026, time.January, 31, 10, 0, 0, 0, time.UTC))
	want := Policy{
		Month:        "2026-01",
		FirstMonth:   "2025-02",
		ExpireBefore: time.Date(2025, time.January, 31, 10, 0, 0, 0, time.UTC),
		SettleBefore: time.Date(2026, time.January, 24, 10, 0, 0, 0, time.UTC),
		ReturnWindow: 7 * 24 * time.Hour,
		MonthlyCap:   1000,
	}
	if p.Month != want.Month || p.FirstMonth != want.FirstMonth || !p.ExpireBefore.Equal(want.ExpireBefore) ||
		!p.SettleBefore.Equal(want.SettleBefore) || p.ReturnWindow != want.ReturnWindow || p.MonthlyCap != want.MonthlyCap {
		t.Errorf("policy %+v, want %+v", p, want)
	}
}

// TestPolicyBusinessCalendar: every month the policy derives is a calendar month of Config.Location (default
// Asia/Shanghai): at 02:00 on March 1 in Beijing (still February 28 in UTC) it is March; the tier window starts
// in April of last year; a month of ExpiryMonths ends at 02:00 on February 1, Beijing time; an award's record is
// kept to the end of April in Beijing, an order's to March 1 02:00 Beijing next year, each plus a day.
func TestPolicyBusinessCalendar(t *testing.T) {
	bj := DefaultLocation()
	now := time.Date(2026, time.March, 1, 2, 0, 0, 0, bj)
	day := 24 * time.Hour
	tests := []struct {
		name                               string
		loc                                *time.Location
		month, first                       string
		expireBefore, keepAward, keepOrder time.Time
	}{
		{"default: Beijing", nil, "2026-03", "2025-04",
			time.Date(2026, time.February, 1, 2, 0, 0, 0, bj),
			time.Date(2026, time.May, 1, 0, 0, 0, 0, bj).Add(day),
			time.Date(2026, time.April, 1, 2, 0, 0, 0, bj).Add(day)},
		{"UTC, as before", time.UTC, "2026-02", "2025-03",
			time.Date(2026, time.January, 28, 18, 0, 0, 0, time.UTC),
			time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC).Add(day),
			time.Date(2026, time.March, 28, 18, 0, 0, 0, time.UTC).Add(day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLedger(nil, Config{Location: tt.loc, ExpiryMonths: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := l.policy(now)
			if p.Month != tt.month || p.FirstMonth != tt.first || !p.ExpireBefore.Equal(tt.expireBefore) {
				t.Errorf("month %s, first %s, expire before %s; want %s, %s, %s", p.Month, p.FirstMonth, p.ExpireBefore, tt.month, tt.first, tt.expireBefore)
			}
			if got := p.keepUntil(Award{At: now}); !got.Equal(tt.keepAward) {
				t.Errorf("award kept until %s, want %s", got, tt.keepAward)
			}
			if got := p.keepUntil(Award{At: now, Pending: true}); !got.Equal(tt.keepOrder) {
				t.Errorf("order kept until %s, want %s", got, tt.keepOrder)
			}
		})
	}
}

func TestTierFor(t *testing.T) {
	tiers := DefaultTiers()
	tests := []struct {
		earned int64
		want   Tier
		base   int64
		wantX  int64
	}{
		{0, TierBronze, 7, 7},
		{2999, TierBronze, 7, 7},
		{3000, TierSilver, 7, 7}, // 7.7 → 7
		{3000, TierSilver, 10, 11},
		{8000, TierGold, 4, 5},
		{8000, TierGold, 3, 3}, // 3.75 → 3
	}
	for _, tt := range tests {
		rule := tierFor(tiers, tt.earned)
		if rule.Tier != tt.want {
			t.Errorf("tierFor(%d) = %s, want %s", tt.earned, rule.Tier, tt.want)
		}
		if got := multiplied(tt.base, rule); got != tt.wantX {
			t.Errorf("multiplied(%d, %s) = %d, want %d", tt.base, rule.Tier, got, tt.wantX)
		}
	}
}

func BenchmarkLedgerAward(b *testing.B) {
	l, err := NewLedger(NewMemoryStore(), Config{MonthlyCap: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		a := Award{Key: fmt.Sprint("k", i), User: fmt.Sprint("u", i%1000), Stream: "s", Source: "comment", Points: 1, Participation: true}
		if _, err := l.Award(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

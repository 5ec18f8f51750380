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

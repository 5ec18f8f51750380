package engagement

import (
	"context"
	"testing"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// TestRulesPendingShorterThanExpiry: points expire expiry_months after they were earned (a purchase's at its
// order), so a return window as long as that would settle purchase points straight into expiry and leave a
// pending order past the point where it can be refunded. The ledger shows the harm; the rules file with such
// a pair is refused naming loyalty.pending_days, and the longest window that fits is accepted.
func TestRulesPendingShorterThanExpiry(t *testing.T) {
	// The harm, on the ledger the rules configure: 60 days pending, 1 month to expire.
	now := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
	clock := &now
	cfg := Economics{MonthlyCap: 1000, TierBasis: rewards.BasisPoints, Tiers: rewards.DefaultTiers(), PendingDays: 60, ExpiryMonths: 1}.LedgerConfig()
	cfg.Now = func() time.Time { return *clock }
	l, err := rewards.NewLedger(rewards.NewMemoryStore(), cfg)
	noErr(t, err)
	ctx := context.Background()
	_, err = l.Award(ctx, rewards.Award{Key: "order:o1", User: "ann", Source: SourcePurchase, Points: 100, Pending: true, Amount: 10000})
	noErr(t, err)
	now = now.AddDate(0, 0, 61)
	acct, err := l.Account(ctx, "ann")
	noErr(t, err)
	if acct.Balance != 0 || acct.Expired != 100 {
		t.Fatalf("with 60 days pending and 1 month to expire: balance %d, expired %d; the points were expected to expire as they settle", acct.Balance, acct.Expired)
	}

	for _, tt := range []struct {
		doc string
		ok  bool
	}{
		{`{"loyalty": {"pending_days": 60, "expiry_months": 1}}`, false},
		{`{"loyalty": {"pending_days": 28, "expiry_months": 1}}`, false},
		{`{"loyalty": {"pending_days": 365, "expiry_months": 12}}`, false},
		{`{"loyalty": {"pending_days": 27, "expiry_months": 1}}`, true},
		{`{"loyalty": {"pending_days": 30, "expiry_months": 2}}`, true},
		{`{"loyalty": {"pending_days": 7}}`, true},
	} {
		_, err := parseRules([]byte(tt.doc))
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v, want it accepted", tt.doc, err)
		case !tt.ok && !hasProblem(err, "loyalty.pending_days"):
			t.Errorf("%s: %v, want a problem at loyalty.pending_days", tt.doc, err)
		}
	}
}

package httpapi

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// shopRules is a custom rules file: a cap of 500 a month, tiers by spend, privileges per tier.
const shopRules = `
loyalty:
  monthly_cap: 500
  tier_basis: spend
  tiers:
    - {tier: bronze, threshold: 0, multiplier: 1}
    - {tier: silver, threshold: 300, multiplier: 1.1, privileges: [优先客服]}
    - {tier: gold, threshold: 1000, multiplier: 1.25, privileges: [优先客服, 新品试用, 包邮]}
`

// newRulesServer is a test server whose service and ledger run the rules file text.
func newRulesServer(t *testing.T, text string) *testServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := engagement.LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rules.Loyalty.LedgerConfig()
	cfg.Location = time.UTC
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, serverOpts{svcCfg: engagement.Config{Rules: &rules, Ledger: ledger}})
}

// TestBrowserTierPrivileges: the viewer page shows the privileges of the viewer's tier by spend, from the
// welcome for a viewer who joins gold, and as soon as a purchase during the show lifts a bronze viewer to
// silver; a bronze viewer sees none.
func TestBrowserTierPrivileges(t *testing.T) {
	ts := newRulesServer(t, shopRules)
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	buy := func(order, user string, fen int64) {
		t.Helper()
		r := ts.do(http.MethodPost, "/api/v1/purchases", shop, map[string]any{"order_id": order, "user_id": user, "stream_id": "s1", "amount_fen": fen})
		if r.status != http.StatusCreated {
			t.Fatalf("purchase %s: %d %s", order, r.status, r.body)
		}
	}
	buy("o1", "ann", 100_000) // ¥1000: gold (500 points paid, the rest over the cap)

	b := newBrowser(t)
	ann := openViewer(ts, b, "ann", "s1")
	bob := openViewer(ts, b, "bob", "s1")
	for _, p := range []*tab{ann, bob} {
		p.click("#points-pill") // the rewards tab
		p.waitFor(`#panel-rewards:not([hidden])`)
	}
	ann.waitText("#rewards-tier", "gold")
	ann.waitFor(`#tier-privileges:not([hidden])`)
	got, err := evalIn[[]string](ann, `[...document.querySelectorAll('#tier-privileges li')].map((li) => li.textContent)`)
	if err != nil || len(got) != 3 || got[0] != "优先客服" || got[1] != "新品试用" || got[2] != "包邮" {
		t.Fatalf("ann's privileges on the page: %q (%v)", got, err)
	}
	visible, err := evalIn[bool](ann, `(() => { const r = document.querySelector('#tier-privileges li:last-child').getBoundingClientRect(); return r.width > 0 && r.height > 0 })()`)
	if err != nil || !visible {
		t.Errorf("ann's privileges are not drawn (%v)", err)
	}
	ann.waitNumber("#points-balance", "0 (purchase points are pending)", func(n int64) bool { return n == 0 })

	bob.waitText("#rewards-tier", "bronze")
	bob.waitFor(`#tier-privileges[hidden]`)
	buy("o2", "bob", 30_000) // ¥300 during the show: silver
	bob.waitText("#rewards-tier", "silver")
	bob.waitFor(`#tier-privileges:not([hidden])`)
	bob.waitText("#tier-privileges", "优先客服")
	if n, err := evalIn[int](bob, `document.querySelectorAll('#tier-privileges li').length`); err != nil || n != 1 {
		t.Errorf("bob's privileges: %d (%v), want 1", n, err)
	}

	ann.noExceptions()
	bob.noExceptions()
}

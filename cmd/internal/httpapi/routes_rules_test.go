package httpapi

import (
	"net/http"
	"reflect"
	"testing"
)

// GET /api/v1/rules needs no token and serves what viewers may see: how to earn, the cap and the sources it
// counts, the tiers with their thresholds, multipliers and privileges; not the internal limits.
func TestGetRules(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	r := ts.do(http.MethodGet, "/api/v1/rules", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/rules: %d %s", r.status, r.body)
	}
	body := r.json(t)
	if body["monthly_cap"] != float64(1000) || body["tier_basis"] != "points" || body["pending_days"] != float64(7) || body["expiry_months"] != float64(12) {
		t.Errorf("default rules %v", body)
	}
	tiers, _ := body["tiers"].([]any)
	var names []any
	for _, x := range tiers {
		tier, _ := x.(map[string]any)
		names = append(names, tier["tier"])
		if _, ok := tier["privileges"].([]any); !ok {
			t.Errorf("tier %v: privileges is not a list", tier)
		}
	}
	if !reflect.DeepEqual(names, []any{"bronze", "silver", "gold"}) {
		t.Errorf("tiers %v", names)
	}
	earn := map[string]float64{}
	for _, x := range body["earn"].([]any) {
		e := x.(map[string]any)
		earn[e["kind"].(string)] = e["points"].(float64)
	}
	if earn["purchase"] != 1 || earn["poll"] != 5 || earn["watch"] != 1 || earn["quiz"] != 100 {
		t.Errorf("earn %v", earn)
	}
	for _, internal := range []string{"comment", "min_interval_s", "max_per_stream", "variants", "arms", "loyalty"} {
		if _, ok := body[internal]; ok {
			t.Errorf("GET /api/v1/rules shows %q", internal)
		}
	}

	// A custom file: its cap, basis, tiers and privileges.
	custom := newRulesServer(t, shopRules)
	body = custom.do(http.MethodGet, "/api/v1/rules", "", nil).json(t)
	tiers, _ = body["tiers"].([]any)
	if body["monthly_cap"] != float64(500) || body["tier_basis"] != "spend" || len(tiers) != 3 ||
		!reflect.DeepEqual(tiers[1].(map[string]any)["privileges"], []any{"优先客服"}) {
		t.Errorf("custom rules %v", body)
	}
}

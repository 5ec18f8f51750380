package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// customRules is a shop's own rules file: a cap of 500 a month, tiers by spend with privileges.
const customRules = `
purchase: {per_yuan: 1}
loyalty:
  monthly_cap: 500
  tier_basis: spend
  tiers:
    - {tier: bronze, threshold: 0, multiplier: 1}
    - {tier: silver, threshold: 300, multiplier: 1.1, privileges: [优先客服]}
    - {tier: gold, threshold: 1000, multiplier: 1.25, privileges: [优先客服, 新品试用, 包邮]}
  pending_days: 7
  expiry_months: 12
  catalogue:
    - {id: tote, title: Tote bag, cost: 400, kind: gift, stock: 10}
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRulesFileEndToEnd runs the server on a custom rules file, with memory state and with Redis:
// GET /api/v1/rules serves it without a token; purchases stop paying at the cap of 500 in the month; the
// tier follows yuan spent, not points; the account and the viewer's welcome carry the tier's privileges;
// the catalogue is the file's.
func TestRulesFileEndToEnd(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testRulesFileEndToEnd(t, nil) })
	t.Run("redis", func(t *testing.T) {
		testRulesFileEndToEnd(t, map[string]string{"KUDOS_REDIS_URL": testenv.RedisURL(t)})
	})
}

func testRulesFileEndToEnd(t *testing.T, extra map[string]string) {
	env := map[string]string{"KUDOS_RULES": writeFile(t, "shop.yaml", customRules)}
	for k, v := range extra {
		env[k] = v
	}
	shared := extra != nil // a shared Redis: ids of this run only, and the catalogue may have been replaced
	n, logs := startServer(t, env)
	if !strings.Contains(logs.String(), "monthly_cap=500") || !strings.Contains(logs.String(), "tier_basis=spend") {
		t.Errorf("the start log does not say which economics it runs:\n%s", logs.String())
	}

	st, rules := n.do("GET", "/api/v1/rules", "", nil)
	if st != 200 || rules["monthly_cap"] != float64(500) || rules["tier_basis"] != "spend" {
		t.Fatalf("GET /api/v1/rules: %d %v", st, rules)
	}
	tiers, _ := rules["tiers"].([]any)
	if len(tiers) != 3 {
		t.Fatalf("tiers %v", rules["tiers"])
	}
	gold, _ := tiers[2].(map[string]any)
	if gold["tier"] != "gold" || gold["threshold"] != float64(1000) || !reflect.DeepEqual(gold["privileges"], []any{"优先客服", "新品试用", "包邮"}) {
		t.Errorf("gold %v", gold)
	}
	if _, ok := rules["earn"].([]any); !ok {
		t.Errorf("no way to earn in %v", rules)
	}
	for _, internal := range []string{"min_interval_s", "max_per_stream", "streak_bonus_max", "catalogue"} {
		if _, ok := rules[internal]; ok {
			t.Errorf("GET /api/v1/rules shows %s", internal)
		}
	}
	if st, body := n.do("GET", "/api/v1/rewards", "", nil); !shared && (st != 200 || !strings.Contains(toJSON(body), `"id":"tote"`) || strings.Contains(toJSON(body), "coupon-5")) {
		t.Errorf("the catalogue is not the file's: %d %v", st, body)
	}

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	stream, user := "s-"+run, "ann-"+run
	n.createStream(t, stream)
	shop, ann := mint(t, "shop", "service", ""), mint(t, user, "viewer", "")
	buy := func(order string, fen int64) map[string]any {
		t.Helper()
		st, body := n.do("POST", "/api/v1/purchases", shop, map[string]any{"order_id": order + "-" + run, "user_id": user, "stream_id": stream, "amount_fen": fen})
		if st != 201 && st != 200 {
			t.Fatalf("purchase %s: %d %v", order, st, body)
		}
		return body
	}
	account := func() map[string]any {
		t.Helper()
		st, body := n.do("GET", "/api/v1/users/"+user+"/points", ann, nil)
		if st != 200 {
			t.Fatalf("account: %d %v", st, body)
		}
		return body
	}

	// ¥300: 300 points, silver by spend.
	if res := buy("o1", 30_000); res["points"] != float64(300) || res["capped"] != float64(0) {
		t.Fatalf("o1: %v", res)
	}
	if a := account(); a["tier"] != "silver" || a["spent_12_months"] != float64(300) || !reflect.DeepEqual(a["privileges"], []any{"优先客服"}) {
		t.Fatalf("after ¥300: %v", a)
	}
	// ¥400 more: 200 points fit under the cap of 500, 200 are capped; ¥700 is still silver.
	if res := buy("o2", 40_000); res["points"] != float64(200) || res["capped"] != float64(200) {
		t.Fatalf("o2: %v, want 200 points and 200 capped", res)
	}
	// The viewer's welcome carries the tier and its privileges.
	v := openViewer(t, n, stream, ann)
	eventually(t, "welcome", func() bool { return len(v.matching("welcome", nil)) == 1 })
	pts, _ := v.matching("welcome", nil)[0]["points"].(map[string]any)
	if pts["tier"] != "silver" || !reflect.DeepEqual(pts["privileges"], []any{"优先客服"}) {
		t.Fatalf("welcome points %v", pts)
	}
	// ¥300 more: the cap is reached, nothing is paid; ¥1000 spent makes gold though the points stay at 500,
	// and the viewer hears of it at once.
	if res := buy("o3", 30_000); res["points"] != float64(0) || res["capped"] != float64(300) {
		t.Fatalf("o3: %v, want nothing paid, 300 capped", res)
	}
	eventually(t, "a points frame with the new tier", func() bool {
		return len(v.matching("points", func(d map[string]any) bool { return d["tier"] == "gold" && d["delta"] == float64(0) })) == 1
	})
	a := account()
	if a["tier"] != "gold" || a["earned_this_month"] != float64(500) || a["monthly_cap"] != float64(500) || a["pending"] != float64(500) ||
		!reflect.DeepEqual(a["privileges"], []any{"优先客服", "新品试用", "包邮"}) {
		t.Fatalf("after ¥1000: %v", a)
	}

	// A viewer joining now is welcomed as gold with its privileges.
	v2 := openViewer(t, n, stream, ann)
	eventually(t, "welcome", func() bool { return len(v2.matching("welcome", nil)) == 1 })
	pts, _ = v2.matching("welcome", nil)[0]["points"].(map[string]any)
	if pts["tier"] != "gold" || !reflect.DeepEqual(pts["privileges"], []any{"优先客服", "新品试用", "包邮"}) {
		t.Fatalf("welcome points %v", pts)
	}
}

// TestRunRefusesBadRulesFile: the server does not start on a bad rules file; the error names the file and
// every field at fault, and nothing listens.
func TestRunRefusesBadRulesFile(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "loyalty:\n  monthly_cap: -1\n  tiers:\n    - {tier: bronze, threshold: 0, multiplier: 1}\n"+
		"    - {tier: gold, threshold: 10, multiplier: 1}\n    - {tier: silver, threshold: 5, multiplier: 1}\n"+
		"  catalogue: [{id: a, title: A}]\n  colour: red\n")
	addr := testenv.FreeAddr(t)
	env := map[string]string{"KUDOS_ADDR": addr, "KUDOS_KAFKA_BROKERS": "none", "KUDOS_SPOOL_DIR": t.TempDir(), "KUDOS_TOKEN_SECRET": testSecret, "KUDOS_RULES": bad}
	logs := &testenv.Buffer{}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, logs, logs)
	if err == nil {
		t.Fatal("the server started on a bad rules file")
	}
	for _, want := range []string{bad, "KUDOS_RULES", "loyalty.monthly_cap", "loyalty.tiers[2].threshold", "loyalty.catalogue[0].cost", "loyalty.colour"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("something listens after the refusal")
	}
}

// TestRulesCheckSubcommand: `kudos rules check` accepts the committed example and names every field at fault
// of a bad file, exiting with an error.
func TestRulesCheckSubcommand(t *testing.T) {
	getenv := func(string) string { return "" }
	var out bytes.Buffer
	example := filepath.Join("..", "..", "docs", "rules.example.yaml")
	if err := run(context.Background(), []string{"rules", "check", example}, getenv, &out, &out); err != nil {
		t.Fatalf("rules check %s: %v\n%s", example, err, out.String())
	}
	if !strings.Contains(out.String(), "ok") || !strings.Contains(out.String(), "包邮") {
		t.Errorf("output %q", out.String())
	}

	out.Reset()
	bad := writeFile(t, "bad.json", `{"loyalty":{"monthly_cap":-3,"tier_basis":"vibes","catalogue":[{"id":"x","title":"X","kind":"gift"}]},"poll":{"pointz":1}}`)
	err := run(context.Background(), []string{"rules", "check", bad}, getenv, &out, &out)
	if !errors.Is(err, errRulesInvalid) {
		t.Fatalf("rules check of a bad file: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"poll.pointz", "loyalty.monthly_cap", "loyalty.tier_basis", "loyalty.catalogue[0].cost"}
	if len(lines) != len(want)+1 {
		t.Fatalf("output lines %q, want one per problem and a count", lines)
	}
	for i, field := range want {
		if !strings.HasPrefix(lines[i], bad+": "+field+": ") {
			t.Errorf("line %d = %q, want the file and %s", i, lines[i], field)
		}
	}
	if err := run(context.Background(), []string{"rules", "check"}, getenv, &out, &out); err == nil {
		t.Error("rules check without a file succeeded")
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

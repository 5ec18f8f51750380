package engagement

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go/ast"
	"go/parser"
	"go/token"
	"golang.org/x/time/rate"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The event contract lives beside the code that must keep it: one JSON Schema per event type (named after
// the type) plus the shared envelope, and the human page whose examples must validate too.
const (
	eventSchemaDir   = "../docs/events"
	eventDocPath     = "../docs/events.md"
	eventTypeSection = "### " + EventTypePrefix
)

// eventTypeConstants returns the event type constants declared in event.go (name → type), read from the
// source so that a constant added there is covered without touching this test.
func eventTypeConstants(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(name.Name, "Event") && name.Name != "EventTypePrefix" {
					consts[name.Name] = v
				}
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("no event type constants found in event.go")
	}
	return consts
}

func eventSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	return testenv.EventSchemas(t, eventSchemaDir)
}

// schemaDoc is the part of an event schema the tests read directly.
type schemaDoc struct {
	Required   []string `json:"required"`
	Properties struct {
		Type struct {
			Const string `json:"const"`
		} `json:"type"`
		Data struct {
			Required []string `json:"required"`
		} `json:"data"`
	} `json:"properties"`
}

func readSchemaDoc(t *testing.T, path string) schemaDoc {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return doc
}

// validateEventJSON validates raw (one event as JSON) against the schema of its type.
func validateEventJSON(schemas map[string]*jsonschema.Schema, raw []byte) (string, error) {
	return testenv.ValidateEvent(schemas, raw)
}

func TestEventSchemasCoverConstants(t *testing.T) {
	consts := eventTypeConstants(t)
	schemas := eventSchemas(t)
	types := map[string]bool{}
	for name, typ := range consts {
		types[typ] = true
		if !strings.HasPrefix(typ, EventTypePrefix) {
			t.Errorf("%s = %q does not start with %q", name, typ, EventTypePrefix)
		}
		if _, ok := schemas[typ]; !ok {
			t.Errorf("%s = %q has no schema %s/%s.json", name, typ, eventSchemaDir, typ)
		}
	}
	for typ := range schemas {
		if !types[typ] {
			t.Errorf("schema %s.json names no event type constant in event.go", typ)
		}
	}
}

// showScript drives one whole show through a Service and returns what its sink received.
func showScript(t *testing.T) []Event { t.Helper(); return showScriptWith(t, false) }

// showScriptWith is showScript on a Service that omits personal text from its events or not
// (Config.OmitEventText).
func showScriptWith(t *testing.T, omitText bool) []Event {
	t.Helper()
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 14, 19, 30, 0, 0, time.UTC))
	// A small cap, a low silver threshold and a cheap reward make points.capped, tier.changed and
	// points.redeemed happen within one short show.
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{
		MonthlyCap: 200,
		Tiers: []rewards.TierRule{
			{Tier: rewards.TierBronze, Threshold: 0, Multiplier: 1},
			{Tier: rewards.TierSilver, Threshold: 20, Multiplier: 1.1},
		},
		Catalogue: []rewards.Reward{{ID: "sticker-pack", Title: "Sticker pack", Cost: 10}},
		Now:       clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := NewMemorySink()
	svc := New(Config{Node: "node-1", Now: clk.Now, CommentRate: rate.Inf, Ledger: ledger, OmitEventText: omitText}, NewMemoryStore(), sink)

	const stream = "spring-sneakers"
	host := Actor{User: "host-mei", Name: "Mei", Role: RoleHost}
	ann := Actor{User: "u-ann", Name: "Ann", Role: RoleViewer}
	bob := Actor{User: "u-bob", Name: "Bob", Role: RoleViewer}
	shop := Actor{User: "shop-backend", Name: "Shop", Role: RoleService}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step := func() { clk.Advance(7 * time.Second) }

	_, err = svc.CreateStream(ctx, host, StreamSpec{ID: stream, Title: "Spring sneakers drop"})
	must("create stream", err)
	for _, v := range []Actor{ann, bob} {
		_, err = svc.Join(ctx, v, stream)
		must("join "+v.User, err)
	}

	// Chat, moderation, likes.
	step()
	_, err = svc.PostComment(ctx, ann, stream, "Is the white pair true to size? 👟")
	must("comment", err)
	out, err := svc.PostComment(ctx, bob, stream, "cheap followers at spam.example")
	must("spam comment", err)
	spamID, _ := out.Reply["comment_id"].(string)
	_, err = svc.Moderate(ctx, host, stream, ModerationAction{Action: ModRemoveComment, CommentID: spamID})
	must("remove comment", err)
	must("like", svc.Like(ctx, ann, stream, 12))

	// A poll the host closes, then a timed one that closes itself on a tick.
	step()
	p, _, err := svc.OpenPoll(ctx, host, stream, PollSpec{Question: "Which colour next?", Options: []string{"White", "Black", "Sage"}})
	must("open poll", err)
	_, err = svc.Vote(ctx, ann, stream, p.ID, 2)
	must("vote ann", err)
	_, err = svc.Vote(ctx, bob, stream, p.ID, 0)
	must("vote bob", err)
	_, _, err = svc.ClosePoll(ctx, host, stream, p.ID)
	must("close poll", err)
	timed, _, err := svc.OpenPoll(ctx, host, stream, PollSpec{Question: "Restock the black pair?", Options: []string{"Yes", "No"}, DurationS: 5})
	must("open timed poll", err)
	_, err = svc.Vote(ctx, ann, stream, timed.ID, 0)
	must("vote timed", err)
	step()
	_, err = svc.Tick(ctx, stream)
	must("tick poll", err)

	// A two-question quiz: the first revealed by its deadline, the second by the host moving on.
	q, err := svc.CreateQuiz(ctx, host, stream, QuizSpec{Title: "Sneaker trivia", Questions: []QuizItem{
		{Text: "Which year did the first pair ship?", Choices: []string{"1984", "1991", "2003"}, Answer: 1, TimeLimitS: 10},
		{Text: "What is the sole made of?", Choices: []string{"Rubber", "Cork"}, Answer: 0, TimeLimitS: 10},
	}})
	must("create quiz", err)
	qs, _, err := svc.NextQuestion(ctx, host, stream, q.ID)
	must("first question", err)
	clk.Advance(2 * time.Second)
	_, err = svc.Answer(ctx, ann, stream, q.ID, qs.Question.QuestionID, 1)
	must("answer ann", err)
	_, err = svc.Answer(ctx, bob, stream, q.ID, qs.Question.QuestionID, 0)
	must("answer bob", err)
	clk.Advance(10 * time.Second)
	_, err = svc.Tick(ctx, stream)
	must("tick quiz", err)
	qs, _, err = svc.NextQuestion(ctx, host, stream, q.ID)
	must("second question", err)
	clk.Advance(3 * time.Second)
	_, err = svc.Answer(ctx, ann, stream, q.ID, qs.Question.QuestionID, 0)
	must("answer ann again", err)
	qs, _, err = svc.NextQuestion(ctx, host, stream, q.ID)
	must("finish quiz", err)
	if qs.Status != QuizFinished {
		t.Fatalf("quiz status = %s, want %s", qs.Status, QuizFinished)
	}

	// A minute of watching, feedback.
	clk.Advance(time.Minute)
	svc.Watched(ctx, ann, stream)
	_, err = svc.SendFeedback(ctx, ann, stream, FeedbackRating, 5)
	must("rating", err)
	_, err = svc.SendFeedback(ctx, bob, stream, FeedbackNPS, 9)
	must("nps", err)

	// A coupon drop and a claim.
	step()
	c, _, err := svc.DropCoupon(ctx, host, stream, CouponSpec{Title: "¥30 off the white pair", Stock: 50, ExpiresS: 300, DiscountFen: 3000, MinSpendFen: 29900})
	must("drop coupon", err)
	claim, err := svc.ClaimCoupon(ctx, ann, stream, c.ID)
	must("claim coupon", err)
	// The shop's checkout redeems the code.
	_, err = svc.RedeemCouponCode(ctx, Actor{User: "shop", Role: RoleService}, claim.Reply["code"].(string), "order-coupon-1")
	must("redeem coupon code", err)

	// A draw anyone may enter, then a keyword draw entered by commenting.
	step()
	d, _, err := svc.OpenDraw(ctx, host, stream, DrawSpec{Prize: "Signed pair of sneakers", Winners: 1, Eligible: DrawAll})
	must("open draw", err)
	for _, v := range []Actor{ann, bob} {
		_, err = svc.EnterDraw(ctx, v, stream, d.ID)
		must("enter draw "+v.User, err)
	}
	_, _, err = svc.RunDraw(ctx, host, stream, d.ID)
	must("run draw", err)
	kd, _, err := svc.OpenDraw(ctx, host, stream, DrawSpec{Prize: "Tote bag", Winners: 1, Eligible: DrawKeyword, Keyword: "sneakers"})
	must("open keyword draw", err)
	step()
	_, err = svc.PostComment(ctx, bob, stream, "I want those SNEAKERS")
	must("keyword comment", err)
	_, _, err = svc.RunDraw(ctx, host, stream, kd.ID)
	must("run keyword draw", err)

	// Product Q&A: asked, upvoted by another viewer, answered by the host.
	step()
	qn, _, err := svc.AskQuestion(ctx, ann, stream, "Do these run wide? I'm usually a 39.")
	must("ask question", err)
	_, err = svc.UpvoteQuestion(ctx, bob, stream, qn.ID)
	must("upvote question", err)
	_, _, err = svc.MarkQuestion(ctx, host, stream, qn.ID, QuestionAnswer, true)
	must("answer question", err)

	// The shelf: a product added by the shop, pinned by the host, opened by a viewer.
	step()
	_, err = svc.AddProduct(ctx, shop, stream, Product{ID: "sku-white-39", Title: "White runner, size 39", PriceFen: 59900, URL: "https://shop.example/sku-white-39"})
	must("add product", err)
	_, _, err = svc.PinProduct(ctx, host, stream, "sku-white-39")
	must("pin product", err)
	_, err = svc.ClickProduct(ctx, ann, stream, "sku-white-39")
	must("click product", err)
	_, err = svc.UnpinProduct(ctx, host, stream, "sku-white-39")
	must("unpin product", err)
	_, err = svc.RemoveProduct(ctx, host, stream, "sku-white-39")
	must("remove product", err)
	_, err = svc.SetCatalogue(ctx, shop, []rewards.Reward{
		{ID: "sticker-pack", Title: "Sticker pack", Cost: 10, Kind: rewards.KindGift},
		{ID: "c20", Title: "满 ¥100 减 ¥20", Cost: 200, Kind: rewards.KindCoupon, Stock: 500, PerUserLimit: 2, DiscountFen: 2000, MinSpendFen: 10000},
	})
	must("set catalogue", err)

	// Purchases: one over the monthly cap, one under it (then refunded), one under a yuan and off-stream.
	step()
	_, _, err = svc.RecordPurchase(ctx, shop, Purchase{OrderID: "SO-1001", UserID: ann.User, StreamID: stream, AmountFen: 59900})
	must("purchase ann", err)
	_, _, err = svc.RecordPurchase(ctx, shop, Purchase{OrderID: "SO-1002", UserID: bob.User, StreamID: stream, AmountFen: 9900})
	must("purchase bob", err)
	_, err = svc.RefundPurchase(ctx, shop, "SO-1002", Refund{})
	must("refund bob", err)
	_, _, err = svc.RecordPurchase(ctx, shop, Purchase{OrderID: "SO-1003", UserID: bob.User, AmountFen: 80})
	must("small purchase", err)

	// A redemption, leaving, the end.
	_, err = svc.Redeem(ctx, ann, ann.User, "sticker-pack", "req-1")
	must("redeem", err)
	svc.Leave(ctx, ann, stream, 1800)
	step()
	_, _, err = svc.EndStream(ctx, host, stream)
	must("end stream", err)
	return sink.Events()
}

func TestEmittedEventsMatchSchemas(t *testing.T) {
	schemas := eventSchemas(t)
	events := showScript(t)

	// Every type with an emitter that the script exercises. Notifications are not part of a show; their
	// schemas are still compiled and their doc examples checked.
	want := []string{
		EventStreamStarted, EventStreamEnded, EventViewerJoined, EventViewerLeft,
		EventCommentPosted, EventCommentRemoved, EventLikeSent,
		EventPollOpened, EventPollVoted, EventPollClosed,
		EventQuizQuestion, EventQuizAnswered, EventQuizRevealed,
		EventFeedbackGiven, EventCouponDropped, EventCouponClaimed, EventCouponRedeemed, EventDrawEntered, EventDrawWon,
		EventQuestionAsked, EventQuestionUpvoted, EventQuestionAnswered,
		EventProductAdded, EventProductPinned, EventProductClicked, EventProductUnpinned, EventProductRemoved, EventCatalogueChanged,
		EventPurchaseRecorded, EventPointsAwarded, EventPointsCapped, EventPointsRedeemed, EventTierChanged,
	}
	seen := map[string]int{}
	ids := map[string]bool{}
	for i, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.Type]++
		typ, err := validateEventJSON(schemas, raw)
		if err != nil {
			t.Errorf("event %d (%s) does not match its schema: %#v\n%s", i, typ, err, raw)
			continue
		}
		if ids[ev.ID] {
			t.Errorf("event %d (%s): id %s used twice", i, typ, ev.ID)
		}
		ids[ev.ID] = true
		// data.stream, where set, must be the subject: a consumer may read either.
		var data struct {
			Stream *string `json:"stream"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("event %d (%s): %v", i, typ, err)
		}
		if data.Stream != nil && *data.Stream != ev.Subject {
			t.Errorf("event %d (%s): data.stream %q != subject %q", i, typ, *data.Stream, ev.Subject)
		}
	}
	for _, typ := range want {
		if seen[typ] == 0 {
			t.Errorf("the show emitted no %s event", typ)
		}
	}
	if t.Failed() {
		t.Logf("types seen: %v", seen)
	}
}

// docExamples returns the fenced json blocks of each event type section of docs/events.md, by type.
func docExamples(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(eventDocPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	examples := map[string][]string{}
	var section string // the event type of the current section, "" outside one
	var block *strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case block != nil && strings.TrimSpace(line) == "```":
			if section != "" {
				examples[section] = append(examples[section], block.String())
			}
			block = nil
		case block != nil:
			block.WriteString(line)
			block.WriteByte('\n')
		case strings.HasPrefix(line, "```json"):
			block = &strings.Builder{}
		case strings.HasPrefix(line, "#"):
			section = ""
			if strings.HasPrefix(line, eventTypeSection) {
				section = strings.TrimSpace(strings.TrimPrefix(line, "###"))
				if _, dup := examples[section]; dup {
					t.Errorf("%s: section %s appears twice", eventDocPath, section)
				}
				examples[section] = nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if block != nil {
		t.Fatalf("%s: unterminated code block", eventDocPath)
	}
	return examples
}

func TestEventDocExamples(t *testing.T) {
	schemas := eventSchemas(t)
	examples := docExamples(t)
	for _, typ := range slices.Sorted(maps.Keys(schemas)) {
		blocks, ok := examples[typ]
		switch {
		case !ok:
			t.Errorf("%s has no section %q", eventDocPath, "### "+typ)
			continue
		case len(blocks) != 1:
			t.Errorf("%s: section %s has %d json examples, want 1", eventDocPath, typ, len(blocks))
			continue
		}
		got, err := validateEventJSON(schemas, []byte(blocks[0]))
		if err != nil {
			t.Errorf("%s: the example of %s does not match its schema: %#v", eventDocPath, typ, err)
			continue
		}
		if got != typ {
			t.Errorf("%s: the example under %s has type %q", eventDocPath, typ, got)
		}
	}
	for typ := range examples {
		if _, ok := schemas[typ]; !ok {
			t.Errorf("%s: section %s is not an event type with a schema", eventDocPath, typ)
		}
	}
}

// TestEventSchemasReject checks that the schemas are not vacuous: each doc example stops validating when a
// required envelope or data field is removed, or when its type is another type's.
func TestEventSchemasReject(t *testing.T) {
	schemas := eventSchemas(t)
	examples := docExamples(t)
	dir := eventSchemaDir
	for _, typ := range slices.Sorted(maps.Keys(schemas)) {
		blocks := examples[typ]
		if len(blocks) != 1 {
			continue // reported by TestEventDocExamples
		}
		doc := readSchemaDoc(t, filepath.Join(dir, typ+".json"))
		var ev map[string]any
		if err := json.Unmarshal([]byte(blocks[0]), &ev); err != nil {
			t.Fatalf("%s example: %v", typ, err)
		}
		type mutation struct {
			name  string
			apply func(ev map[string]any)
		}
		var muts []mutation
		for _, f := range append([]string{"specversion", "id", "source", "type", "time", "datacontenttype", "data"}, doc.Required...) {
			muts = append(muts, mutation{"without " + f, func(ev map[string]any) { delete(ev, f) }})
		}
		for _, f := range doc.Properties.Data.Required {
			muts = append(muts, mutation{"without data." + f, func(ev map[string]any) { delete(ev["data"].(map[string]any), f) }})
			muts = append(muts, mutation{"data." + f + " of the wrong type", func(ev map[string]any) {
				data := ev["data"].(map[string]any)
				if _, isString := data[f].(string); isString {
					data[f] = []any{1}
				} else {
					data[f] = "x"
				}
			}})
		}
		muts = append(muts,
			mutation{"bad id", func(ev map[string]any) { ev["id"] = "not-a-ulid" }},
			mutation{"bad time", func(ev map[string]any) { ev["time"] = "yesterday" }},
			mutation{"bad source", func(ev map[string]any) { ev["source"] = "elsewhere/node-1" }},
		)
		for _, m := range muts {
			mutated := deepCopyJSON(t, ev)
			m.apply(mutated)
			raw, err := json.Marshal(mutated)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := schemas[typ].Validate(v); err == nil {
				t.Errorf("%s %s: validated, want rejected", typ, m.name)
			}
		}
		// An event of one type never passes as another.
		for _, other := range slices.Sorted(maps.Keys(schemas)) {
			if other == typ {
				continue
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(blocks[0]))
			if err != nil {
				t.Fatal(err)
			}
			if schemas[other].Validate(v) == nil {
				t.Errorf("the %s example validates against %s", typ, other)
			}
		}
	}
}

func deepCopyJSON(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

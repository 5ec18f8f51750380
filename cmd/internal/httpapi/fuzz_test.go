package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
	"github.com/labstack/echo/v4"
)

// problemCodes are the codes a problem body may carry: the stable list and the loyalty codes.
var problemCodes = map[string]bool{
	string(engagement.CodeBadFrame): true, string(engagement.CodeUnknownType): true,
	string(engagement.CodeTooLarge): true, string(engagement.CodeRateLimited): true,
	string(engagement.CodeUnauthorized): true, string(engagement.CodeForbidden): true,
	string(engagement.CodeNotFound): true, string(engagement.CodeClosed): true,
	string(engagement.CodeDuplicate): true, string(engagement.CodeInvalid): true,
	string(engagement.CodeUnavailable): true, string(engagement.CodeInternal): true,
	string(engagement.CodeInsufficientPoints): true, string(engagement.CodeOutOfStock): true,
	string(engagement.CodeConflict): true, string(engagement.CodeExpired): true,
	string(engagement.CodeLimitReached): true,
}

// apiWorld is an in-process API (no socket) over memory backends with one live stream, s1, carrying an
// open poll, a running quiz, an open draw, a viewer question and a recorded purchase.
type apiWorld struct {
	e     *echo.Echo
	svc   *engagement.Service
	reg   *stream.Registry
	store *engagement.MemoryStore
	// params maps a route's path parameter to the value used for it.
	params map[string]string
}

func newAPIWorld(t testing.TB, tokens *authtoken.Key, logger *slog.Logger) *apiWorld {
	t.Helper()
	store := engagement.NewMemoryStore()
	svc := engagement.New(engagement.Config{Logger: logger}, store, engagement.NewMemorySink())
	reg := stream.NewRegistry(stream.Config{Logger: logger}, svc)
	w := &apiWorld{
		e:     New(Config{Service: svc, Registry: reg, Tokens: tokens, DevMode: true, Logger: logger}),
		svc:   svc,
		reg:   reg,
		store: store,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
	})
	ctx := context.Background()
	host := engagement.Actor{User: "host-s1", Name: "Host", Role: engagement.RoleHost, Stream: "s1"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("set up: %v", err)
		}
	}
	_, err := svc.CreateStream(ctx, host, engagement.StreamSpec{ID: "s1", Title: "Show"})
	must(err)
	p, _, err := svc.OpenPoll(ctx, host, "s1", engagement.PollSpec{Question: "Colour?", Options: []string{"red", "blue"}})
	must(err)
	q, err := svc.CreateQuiz(ctx, host, "s1", engagement.QuizSpec{Questions: []engagement.QuizItem{
		{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 60},
		{Text: "3+3?", Choices: []string{"6", "7"}, Answer: 0, TimeLimitS: 60},
	}})
	must(err)
	d, _, err := svc.OpenDraw(ctx, host, "s1", engagement.DrawSpec{Prize: "A hat", Winners: 1})
	must(err)
	qa, _, err := svc.AskQuestion(ctx, engagement.Actor{User: "ann", Name: "Ann", Role: engagement.RoleViewer}, "s1", "In red?")
	must(err)
	shop := engagement.Actor{User: "shop", Role: engagement.RoleService}
	_, _, err = svc.RecordPurchase(ctx, shop, engagement.Purchase{OrderID: "o-1", UserID: "ann", StreamID: "s1", AmountFen: 9900})
	must(err)
	w.params = map[string]string{
		":id": "s1", ":pid": p.ID, ":did": d.ID, ":order_id": "o-1", ":uid": "ann",
		"/quizzes/:qid": "/quizzes/" + q.ID, "/questions/:qid": "/questions/" + qa.ID,
	}
	return w
}

// bodyRoute is a route that reads a request body, with the path to call and the token to call it with.
type bodyRoute struct {
	method, path, token string
}

// bodyRoutes lists every POST and PATCH route under /api/v1 from the router itself, so that a new route is
// fuzzed without editing this file. Loyalty routes use the shop's service token or the viewer's own; the
// rest the host's.
func (w *apiWorld) bodyRoutes(host, service, viewer string) []bodyRoute {
	var out []bodyRoute
	for _, r := range w.e.Routes() {
		if (r.Method != http.MethodPost && r.Method != http.MethodPatch) || !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		path := r.Path
		for _, k := range []string{"/quizzes/:qid", "/questions/:qid", ":order_id", ":pid", ":did", ":uid", ":id"} {
			path = strings.ReplaceAll(path, k, w.params[k])
		}
		tok := host
		switch {
		case strings.HasPrefix(path, "/api/v1/purchases"), path == "/api/v1/notifications":
			tok = service
		case strings.Contains(path, "/redemptions"), strings.Contains(path, "/replay/"):
			tok = viewer
		}
		out = append(out, bodyRoute{method: r.Method, path: path, token: tok})
	}
	// Ending the stream goes last: after it every other route could only answer closed.
	ends := func(r bodyRoute) bool { return strings.HasSuffix(r.path, "/end") }
	sort.Slice(out, func(i, j int) bool {
		if ends(out[i]) != ends(out[j]) {
			return ends(out[j])
		}
		return out[i].method+out[i].path < out[j].method+out[j].path
	})
	return out
}

// apiState is what a rejected request must leave as it was.
type apiState struct {
	Stream     engagement.Stream
	Poll       engagement.Poll
	Moderation engagement.Moderation
	Coupons    int
	Questions  engagement.QuestionList
	Balance    int64
	Pending    int64
}

func (w *apiWorld) state(t *testing.T) apiState {
	t.Helper()
	ctx := context.Background()
	admin := engagement.Actor{User: "root", Role: engagement.RoleAdmin}
	var s apiState
	var err error
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read state: %v", err)
		}
	}
	s.Stream, err = w.svc.Stream(ctx, "s1")
	check(err)
	s.Poll, err = w.svc.Poll(ctx, "s1", w.params[":pid"])
	check(err)
	s.Moderation, err = w.svc.ModerationOf(ctx, admin, "s1")
	check(err)
	cs, err := w.store.Coupons(ctx, "s1")
	check(err)
	s.Coupons = len(cs)
	s.Questions, err = w.svc.Questions(ctx, admin, "s1", 0)
	check(err)
	acc, err := w.svc.Account(ctx, admin, "ann")
	check(err)
	s.Balance, s.Pending = acc.Balance, acc.Pending
	return s
}

// FuzzAPIBodies posts arbitrary bytes as the JSON body of every POST/PATCH route of /api/v1 with a valid
// token. No request may fail with a 5xx; every 4xx is a problem+json body with a known code; and a refused
// request changes nothing.
func FuzzAPIBodies(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `0`, `{"a":1} {"b":2}`,
		`{"id":"s9","title":"New show","video_delay_ms":1500}`,
		`{"question":"Colour?","options":["red","blue"],"duration_s":30}`,
		`{"question":"Q","options":["a","b"],"duration_s":1e308}`,
		`{"questions":[{"text":"2+2?","choices":["3","4"],"answer":1,"time_limit_s":10}]}`,
		`{"questions":[{"text":"x","choices":[[["deep"]]],"answer":-0,"time_limit_s":-0}]}`,
		`{"title":"10% off","stock":10,"expires_s":60}`,
		`{"title":"x","stock":9223372036854775808,"expires_s":60}`,
		`{"prize":"A hat","winners":1,"eligible":"keyword","keyword":"🎩"}`,
		`{"action":"slow_mode","seconds":10}`, `{"action":"ban_words","words":["\u202e","\u200d"]}`,
		`{"order_id":"o-2","user_id":"ann","stream_id":"s1","amount_fen":12345}`,
		`{"order_id":"o-2","order_id":"o-3","user_id":"ann","amount_fen":-0}`,
		`{"order_id":"o-4","user_id":"ann","amount_fen":"NaN"}`,
		`{"order_id":"o-5","user_id":"ann","amount_fen":1e308}`,
		`{"reward_id":"coupon-5","request_id":"r1"}`,
		`{"kind":"promo","title":"Sale","body":"now","users":["ann"]}`,
		`{"quiz_id":"x","question_id":"q0","choice":0}`,
		`{"pinned":false}`, `{"answered":"yes"}`,
		`{"title":"\u0645\u0631\u062d\u0628\u0627 e\u0301\u0301\u0301 👩‍👩‍👧"}`,
		"{\"title\":\"\xff\xfe\"}", "{\"title\":\"\xed\xa0\x80\"}",
		`{"title":"` + strings.Repeat("[", 2000) + `"}`, strings.Repeat("[", 10000),
	} {
		f.Add([]byte(s))
	}
	tokens, err := authtoken.NewKey([]byte("fuzz-secret-0123456789"))
	if err != nil {
		f.Fatal(err)
	}
	mint := func(user, role, streamID string) string {
		tok, _, err := tokens.Mint(user, user, role, streamID, time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	host, service, viewer := mint("host-s1", engagement.RoleHost, "s1"), mint("shop", engagement.RoleService, ""), mint("ann", engagement.RoleViewer, "")
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := newAPIWorld(t, tokens, logger)
		for _, r := range w.bodyRoutes(host, service, viewer) {
			before := w.state(t)
			req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			req.Header.Set(echo.HeaderAuthorization, "Bearer "+r.token)
			rec := httptest.NewRecorder()
			w.e.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with body %q: status %d %s", r.method, r.path, body, rec.Code, rec.Body)
			}
			if rec.Code < 400 {
				continue
			}
			if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/problem+json" {
				t.Fatalf("%s %s with body %q: status %d with content type %q", r.method, r.path, body, rec.Code, ct)
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || !problemCodes[p.Code] || p.Status != rec.Code {
				t.Fatalf("%s %s with body %q: status %d, problem %s (%v)", r.method, r.path, body, rec.Code, rec.Body, err)
			}
			if after := w.state(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s %s with body %q was refused (%s) but changed state:\nbefore %+v\nafter  %+v", r.method, r.path, body, p.Code, before, after)
			}
		}
	})
}

package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

const testSecret = "test-secret-0123456789" // the secret newTestServer's key signs with

// signClaims signs arbitrary claims with the test server's secret, for tokens Mint would not make.
func signClaims(t *testing.T, c authtoken.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shortToken is a viewer token for user that expires in about ttl (JWT times are whole seconds: up to a
// second sooner), and that expiry.
func shortToken(t *testing.T, user string, ttl time.Duration) (string, time.Time) {
	t.Helper()
	now := time.Now()
	exp := now.Add(ttl).Truncate(time.Second)
	return signClaims(t, authtoken.Claims{Name: user, Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{
		Subject: user, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}}), exp
}

// closeOf reads until the connection closes and returns the close frame, failing on anything else.
func (c *wsClient) closeOf(timeout time.Duration) *websocket.CloseError {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		if _, _, err := c.conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !asCloseError(err, &ce) {
				c.t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce
		}
	}
}

// alive asserts that the socket still answers a ping.
func (c *wsClient) alive(id string) {
	c.t.Helper()
	c.send("ping", id, nil)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for pong %q: %v", id, err)
		}
		if f.Type == "pong" && f.data(c.t)["id"] == id {
			return
		}
	}
	c.t.Fatalf("no pong %q within 5 s", id)
}

// sleepUntil waits until t (plus a margin for the server's timer).
func sleepUntil(t time.Time) { time.Sleep(time.Until(t) + 500*time.Millisecond) }

// TestSocketClosedWhenTokenExpires: the token's expiry ends the socket with 4001 token_expired, not before.
func TestSocketClosedWhenTokenExpires(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	tok, exp := shortToken(t, "ann", 2*time.Second)
	c := ts.dial("s1", tok)
	c.expect("welcome")
	c.alive("before-expiry")
	ce := c.closeOf(10 * time.Second)
	if ce.Code != 4001 || ce.Text != "token_expired" {
		t.Fatalf("closed with %d %q, want 4001 token_expired", ce.Code, ce.Text)
	}
	if early := time.Until(exp); early > 0 {
		t.Fatalf("closed %v before the token expired", early)
	}
}

// TestHandshakeStormFromOneTokenIsRateLimited: one token opening and dropping sockets as fast as it can is
// refused with 429 rate_limited after the burst, before any join is recorded; the events the storm writes
// are bounded by the handshake limit.
func TestHandshakeStormFromOneTokenIsRateLimited(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	tok := ts.token("abuser", engagement.RoleViewer, "")
	countEvents := func() (joined, left int, pair []engagement.Event) {
		var j, l *engagement.Event
		for _, e := range ts.sink.Events() {
			if e.UserID != "abuser" {
				continue
			}
			switch e.Type {
			case engagement.EventViewerJoined:
				joined++
				if j == nil {
					j = &e
				}
			case engagement.EventViewerLeft:
				left++
				if l == nil {
					l = &e
				}
			}
		}
		if j != nil && l != nil {
			pair = []engagement.Event{*j, *l}
		}
		return joined, left, pair
	}

	const attempts = 200
	start := time.Now()
	opened, limited := 0, 0
	for range attempts {
		c, res, err := ts.tryDial("s1", tok, nil)
		if err == nil {
			opened++
			_ = c.conn.Close() // drop at once: a connect/disconnect storm
			continue
		}
		if res == nil {
			t.Fatalf("handshake failed without an HTTP answer: %v", err)
		}
		var p Problem
		_ = json.NewDecoder(res.Body).Decode(&p)
		if res.StatusCode != http.StatusTooManyRequests || p.Code != string(engagement.CodeRateLimited) {
			t.Fatalf("refused handshake: %d %+v, want 429 rate_limited", res.StatusCode, p)
		}
		if after, err := strconv.Atoi(res.Header.Get("Retry-After")); p.Detail != "too many open connections for this user or address" && (err != nil || after < 1) {
			t.Fatalf("refused handshake: Retry-After %q, want whole seconds", res.Header.Get("Retry-After"))
		}
		limited++
	}
	elapsed := time.Since(start)

	// Every accepted socket leaves: wait until its viewer.left is written.
	deadline := time.Now().Add(10 * time.Second)
	joined, left, pair := countEvents()
	for left < joined && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		joined, left, pair = countEvents()
	}
	// The default limit is a burst of 10 and then 1 a second per user.
	maxOpened := 10 + int(elapsed.Seconds()) + 1
	t.Logf("storm: %d handshakes in %v: %d opened, %d refused; %d viewer.joined, %d viewer.left", attempts, elapsed.Round(time.Millisecond), opened, limited, joined, left)
	if opened > maxOpened {
		t.Fatalf("%d of %d handshakes in %v were accepted, want at most %d (burst 10, 1/s)", opened, attempts, elapsed, maxOpened)
	}
	if joined != opened || left != opened {
		t.Fatalf("%d viewer.joined and %d viewer.left for %d accepted sockets, want one each: refused handshakes record nothing", joined, left, opened)
	}
	if pair == nil {
		t.Fatal("no viewer.joined/viewer.left pair to measure")
	}
	pairBytes := 0
	for _, e := range pair {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		pairBytes += len(b) + len(e.Key()) // the Kafka value and key
	}
	// What one abusive token can cause on one node at the default limit: the burst, then 1 handshake a second.
	firstMinute := 2 * (10 + 60)
	perMinute := 2 * 60
	t.Logf("one joined+left pair is %d bytes; one token at most %d events in its first minute, %d a minute after, %d bytes an hour (%.1f KiB), per node",
		pairBytes, firstMinute, perMinute, (10+3600)*pairBytes, float64((10+3600)*pairBytes)/1024)
}

// TestTokenRefreshKeepsSocketOpen: a fresh token sent as auth.refresh before the first expires is acked and
// its expiry applies: the socket outlives the first token.
func TestTokenRefreshKeepsSocketOpen(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	tok, exp := shortToken(t, "ann", 2*time.Second)
	c := ts.dial("s1", tok)
	c.expect("welcome")
	fresh, freshExp, err := ts.tokens.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c.send("auth.refresh", "r1", map[string]string{"token": fresh})
	ack := c.expectReply("r1")
	if ack.Type != "ack" {
		t.Fatalf("auth.refresh: %s %s, want ack", ack.Type, ack.Data)
	}
	if got := ack.data(t)["expires_ms"]; got != float64(freshExp.UnixMilli()) {
		t.Fatalf("ack expires_ms %v, want %d", got, freshExp.UnixMilli())
	}
	sleepUntil(exp)
	c.alive("after-first-expiry")
}

// TestTokenRefreshShortensExpiry: the refreshed token's expiry applies even when it is the sooner one.
func TestTokenRefreshShortensExpiry(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	short, exp := shortToken(t, "ann", 2*time.Second)
	c.send("auth.refresh", "r1", map[string]string{"token": short})
	if ack := c.expectReply("r1"); ack.Type != "ack" {
		t.Fatalf("auth.refresh: %s %s, want ack", ack.Type, ack.Data)
	}
	ce := c.closeOf(10 * time.Second)
	if ce.Code != 4001 || ce.Text != "token_expired" {
		t.Fatalf("closed with %d %q, want 4001 token_expired", ce.Code, ce.Text)
	}
	if early := time.Until(exp); early > 0 {
		t.Fatalf("closed %v before the refreshed token expired", early)
	}
}

// TestTokenRefreshRefusals: a refresh token that fails verification is unauthorized, one for another user,
// role or stream scope is forbidden; the socket stays open and keeps its first token's expiry.
func TestTokenRefreshRefusals(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	tok, exp := shortToken(t, "ann", 3*time.Second)
	c := ts.dial("s1", tok)
	c.expect("welcome")
	other, err := authtoken.NewKey([]byte("another-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _, _ := other.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	expired, _, _ := ts.tokens.Mint("ann", "Ann", engagement.RoleViewer, "", -time.Minute)
	now := time.Now()
	overlong := signClaims(t, authtoken.Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{
		Subject: "ann", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(30 * 24 * time.Hour)),
	}})
	tests := []struct {
		name string
		data any
		want engagement.Code
	}{
		{"no token", map[string]string{}, engagement.CodeUnauthorized},
		{"no data", nil, engagement.CodeUnauthorized},
		{"garbage", map[string]string{"token": "not-a-jwt"}, engagement.CodeUnauthorized},
		{"forged", map[string]string{"token": forged}, engagement.CodeUnauthorized},
		{"expired", map[string]string{"token": expired}, engagement.CodeUnauthorized},
		{"lives a month", map[string]string{"token": overlong}, engagement.CodeUnauthorized},
		{"another user", map[string]string{"token": ts.token("bob", engagement.RoleViewer, "")}, engagement.CodeForbidden},
		{"same user as host", map[string]string{"token": ts.token("ann", engagement.RoleHost, "")}, engagement.CodeForbidden},
		{"same user, other stream scope", map[string]string{"token": ts.token("ann", engagement.RoleViewer, "s2")}, engagement.CodeForbidden},
		{"token not a string", map[string]any{"token": 42}, engagement.CodeInvalid},
	}
	for i, tt := range tests {
		id := "r" + strconv.Itoa(i)
		c.send("auth.refresh", id, tt.data)
		f := c.expectReply(id)
		if f.Type != "error" || f.data(t)["code"] != string(tt.want) {
			t.Fatalf("%s: %s %s, want error %s", tt.name, f.Type, f.Data, tt.want)
		}
	}
	c.alive("after-refusals")
	// None of them pushed the expiry back.
	ce := c.closeOf(10 * time.Second)
	if ce.Code != 4001 || ce.Text != "token_expired" {
		t.Fatalf("closed with %d %q, want 4001 token_expired", ce.Code, ce.Text)
	}
	if early := time.Until(exp); early > 0 {
		t.Fatalf("closed %v before the token expired", early)
	}
}

// TestHandshakeRefusesOverlongToken: a token living longer than the maximum lifetime (default 24 h) is
// refused at the handshake, like a forged one.
func TestHandshakeRefusesOverlongToken(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	now := time.Now()
	for name, c := range map[string]jwt.RegisteredClaims{
		"a year":             {Subject: "ann", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(365 * 24 * time.Hour))},
		"two days, no iat":   {Subject: "ann", ExpiresAt: jwt.NewNumericDate(now.Add(48 * time.Hour))},
		"backdated two days": {Subject: "ann", IssuedAt: jwt.NewNumericDate(now.Add(-47 * time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
	} {
		tok := signClaims(t, authtoken.Claims{Role: engagement.RoleViewer, RegisteredClaims: c})
		_, res, err := ts.tryDial("s1", tok, nil)
		if res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: handshake %v, want 401", name, err)
		}
	}
	// A day is allowed.
	ts.dial("s1", signClaims(t, authtoken.Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{
		Subject: "ann", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(24 * time.Hour)),
	}})).expect("welcome")
}

// newServerWithKey is newTestServer verifying and minting with tokens.
func newServerWithKey(t *testing.T, tokens *authtoken.Key) *testServer {
	t.Helper()
	store := engagement.NewMemoryStore()
	sink := engagement.NewMemorySink()
	svc := engagement.New(engagement.Config{}, store, sink)
	reg := stream.NewRegistry(stream.Config{}, svc)
	srv := httptest.NewServer(New(Config{Service: svc, Registry: reg, Tokens: tokens, DevMode: true}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		srv.Close()
	})
	return &testServer{t: t, URL: srv.URL, srv: srv, svc: svc, reg: reg, tokens: tokens, sink: sink, store: store}
}

// TestIssuerAndAudienceChecked: a server configured with an issuer and an audience refuses tokens without
// them, at the handshake, on the API and in auth.refresh, and its own guest tokens carry them.
func TestIssuerAndAudienceChecked(t *testing.T) {
	tokens, err := authtoken.New([]byte(testSecret), authtoken.Config{Issuer: "https://shop.example", Audience: "kudos"})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServerWithKey(t, tokens)
	ts.createStream("s1")
	plain, err := authtoken.NewKey([]byte(testSecret)) // same secret, no iss or aud
	if err != nil {
		t.Fatal(err)
	}
	bare, _, _ := plain.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	if _, res, err := ts.tryDial("s1", bare, nil); res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("handshake without iss/aud: %v, want 401", err)
	}
	if r := ts.do(http.MethodGet, "/api/v1/users/ann/points", bare, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("API call without iss/aud: %d %s, want 401", r.status, r.body)
	}
	guest := ts.do(http.MethodPost, "/api/v1/tokens/guest", "", map[string]string{"name": "Gus"})
	if guest.status != http.StatusCreated {
		t.Fatalf("guest token: %d %s", guest.status, guest.body)
	}
	ts.dial("s1", guest.json(t)["token"].(string)).expect("welcome")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	c.send("auth.refresh", "r1", map[string]string{"token": bare})
	c.expectError("r1", engagement.CodeUnauthorized)
	c.send("auth.refresh", "r2", map[string]string{"token": ts.token("ann", engagement.RoleViewer, "")})
	if f := c.expectReply("r2"); f.Type != "ack" {
		t.Fatalf("refresh with a token of this issuer: %s %s, want ack", f.Type, f.Data)
	}
}

// TestHandshakesRateLimitedPerAddress: many users behind one address share its (larger) bucket; a handshake
// refused for the address records nothing.
func TestHandshakesRateLimitedPerAddress(t *testing.T) {
	opts := serverOpts{}
	opts.streamCfg.HandshakeIPBurst = 3
	opts.streamCfg.HandshakeIPRate = 0.001 // no refill within the test
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	for _, u := range []string{"u1", "u2", "u3"} {
		c := ts.dial("s1", ts.token(u, engagement.RoleViewer, ""))
		c.expect("welcome")
		_ = c.conn.Close()
	}
	_, res, err := ts.tryDial("s1", ts.token("u4", engagement.RoleViewer, ""), nil)
	if res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth user from one address: %v, want 429 with Retry-After", err)
	}
	for _, e := range ts.sink.Events() {
		if e.UserID == "u4" {
			t.Fatalf("a refused handshake recorded %s", e.Type)
		}
	}
}

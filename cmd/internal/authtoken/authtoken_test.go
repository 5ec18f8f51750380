package authtoken

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kudos-live/kudos/engagement"
)

func newKey(t *testing.T, secret string) *Key {
	t.Helper()
	k, err := NewKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMintThenVerify(t *testing.T) {
	k := newKey(t, "test-secret-0123456789")
	tok, exp, err := k.Mint("host-s1", "Mia", engagement.RoleHost, "s1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %v, want about an hour", d)
	}
	got, err := k.Verify(tok)
	want := engagement.Actor{User: "host-s1", Name: "Mia", Role: engagement.RoleHost, Stream: "s1"}
	if err != nil || got != want {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
	}
	// With no name the actor is called by its user id.
	tok, _, _ = k.Mint("ann", "", engagement.RoleViewer, "", time.Hour)
	if got, err := k.Verify(tok); err != nil || got.Name != "ann" {
		t.Fatalf("Verify unnamed = %+v, %v", got, err)
	}
}

func TestMintRefuses(t *testing.T) {
	k := newKey(t, "test-secret-0123456789")
	if _, _, err := k.Mint("", "", engagement.RoleViewer, "", time.Hour); err == nil {
		t.Fatal("minted a token without a user")
	}
	if _, _, err := k.Mint("ann", "", "emperor", "", time.Hour); err == nil {
		t.Fatal("minted a token with an unknown role")
	}
	if _, err := NewKey([]byte("short")); err == nil {
		t.Fatal("NewKey accepted a 5-byte secret")
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := newKey(t, "test-secret-0123456789")
	forged, _, _ := newKey(t, "another-secret-0123456789").Mint("host-s1", "", engagement.RoleHost, "s1", time.Hour)
	expired, _, _ := k.Mint("ann", "", engagement.RoleViewer, "", -time.Minute)
	sign := func(method jwt.SigningMethod, key any, c Claims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	later := jwt.NewNumericDate(time.Now().Add(time.Hour))
	secret := []byte("test-secret-0123456789")
	tests := []struct {
		name, token, problem string
	}{
		{"other secret", forged, "bad signature"},
		{"expired", expired, "expired"},
		{"garbage", "not.a.jwt", "malformed"},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, Claims{Role: engagement.RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{Subject: "eve", ExpiresAt: later}}), "bad signature"},
		{"HS512", sign(jwt.SigningMethodHS512, secret, Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{Subject: "ann", ExpiresAt: later}}), "bad signature"},
		{"no expiry", sign(jwt.SigningMethodHS256, secret, Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{Subject: "ann"}}), "rejected"},
		{"no subject", sign(jwt.SigningMethodHS256, secret, Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: later}}), "missing subject or unknown role"},
		{"unknown role", sign(jwt.SigningMethodHS256, secret, Claims{Role: "emperor", RegisteredClaims: jwt.RegisteredClaims{Subject: "ann", ExpiresAt: later}}), "missing subject or unknown role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act, err := k.Verify(tt.token)
			if engagement.CodeOf(err) != engagement.CodeUnauthorized || act != (engagement.Actor{}) {
				t.Fatalf("Verify = %+v, %v; want unauthorized", act, err)
			}
			msg := engagement.MessageOf(err)
			if msg != "invalid token: "+tt.problem {
				t.Fatalf("message %q, want %q", msg, "invalid token: "+tt.problem)
			}
			if strings.Contains(msg, tt.token) {
				t.Fatalf("message %q echoes the token", msg)
			}
		})
	}
}

// signed signs claims with secret as HS256.
func signed(t *testing.T, secret string, c Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyRefusesOverlongLifetime: a token living longer than MaxLifetime (default 24 h) is refused, counted
// from iat and from now, so that leaving iat out or dating it in the future gains nothing.
func TestVerifyRefusesOverlongLifetime(t *testing.T) {
	const secret = "test-secret-0123456789"
	now := time.Now()
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	token := func(iat, exp *jwt.NumericDate) string {
		return signed(t, secret, Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{Subject: "ann", IssuedAt: iat, ExpiresAt: exp}})
	}
	def := newKey(t, secret)
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"a day, from now", token(at(0), at(24*time.Hour)), true},
		{"an hour left of a day", token(at(-23*time.Hour), at(time.Hour)), true},
		{"two days", token(at(0), at(48*time.Hour)), false},
		{"a year", token(at(0), at(365*24*time.Hour)), false},
		{"two days, no iat", token(nil, at(48*time.Hour)), false},
		{"an hour left of two days", token(at(-47*time.Hour), at(time.Hour)), false},
		{"iat in the future", token(at(47*time.Hour), at(48*time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act, err := def.Verify(tt.token)
			if tt.ok {
				if err != nil || act.User != "ann" {
					t.Fatalf("Verify = %+v, %v; want ann", act, err)
				}
				return
			}
			if engagement.CodeOf(err) != engagement.CodeUnauthorized || act != (engagement.Actor{}) {
				t.Fatalf("Verify = %+v, %v; want unauthorized", act, err)
			}
			if msg := engagement.MessageOf(err); msg != "invalid token: lifetime longer than 24h0m0s" {
				t.Fatalf("message %q", msg)
			}
		})
	}
	// The limit is a setting: shorter, or none.
	short, err := New([]byte(secret), Config{MaxLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := short.Mint("ann", "", engagement.RoleViewer, "", 2*time.Hour); engagement.CodeOf(verifyErr(short, tok)) != engagement.CodeUnauthorized {
		t.Fatal("a 2 h token passed a 1 h limit")
	}
	if tok, _, _ := short.Mint("ann", "", engagement.RoleViewer, "", time.Hour); verifyErr(short, tok) != nil {
		t.Fatalf("a 1 h token failed a 1 h limit: %v", verifyErr(short, tok))
	}
	none, err := New([]byte(secret), Config{MaxLifetime: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyErr(none, token(at(0), at(365*24*time.Hour))); err != nil {
		t.Fatalf("no limit: a year's token refused: %v", err)
	}
}

func verifyErr(k *Key, tok string) error {
	_, err := k.Verify(tok)
	return err
}

// TestVerifyExpiryReturnsExp: the expiry a socket closes at is the token's exp.
func TestVerifyExpiryReturnsExp(t *testing.T) {
	k := newKey(t, "test-secret-0123456789")
	tok, exp, err := k.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	act, got, err := k.VerifyExpiry(tok)
	if err != nil || act.User != "ann" || !got.Equal(exp) {
		t.Fatalf("VerifyExpiry = %+v, %v, %v; want ann, %v", act, got, err, exp)
	}
}

// TestIssuerAndAudience: a Key configured with an issuer and an audience writes them into what it mints and
// refuses tokens without the matching claims; a Key without them ignores the claims.
func TestIssuerAndAudience(t *testing.T) {
	const secret = "test-secret-0123456789"
	k, err := New([]byte(secret), Config{Issuer: "https://shop.example", Audience: "kudos"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := k.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://shop.example" || len(c.Audience) != 1 || c.Audience[0] != "kudos" {
		t.Fatalf("minted iss %q aud %v, want https://shop.example and [kudos]", c.Issuer, c.Audience)
	}
	if err := verifyErr(k, tok); err != nil {
		t.Fatalf("own token refused: %v", err)
	}
	later := jwt.NewNumericDate(time.Now().Add(time.Hour))
	claims := func(iss string, aud ...string) string {
		return signed(t, secret, Claims{Role: engagement.RoleViewer, RegisteredClaims: jwt.RegisteredClaims{
			Subject: "ann", Issuer: iss, Audience: aud, ExpiresAt: later, IssuedAt: jwt.NewNumericDate(time.Now()),
		}})
	}
	plain := newKey(t, secret)
	unconfigured, _, _ := plain.Mint("ann", "", engagement.RoleViewer, "", time.Hour)
	tests := []struct {
		name, token, problem string
	}{
		{"no iss or aud", unconfigured, "wrong or missing issuer"},
		{"wrong issuer", claims("https://evil.example", "kudos"), "wrong or missing issuer"},
		{"no audience", claims("https://shop.example"), "wrong or missing audience"},
		{"wrong audience", claims("https://shop.example", "billing"), "wrong or missing audience"},
		{"another audience among several", claims("https://shop.example", "billing", "kudos"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyErr(k, tt.token)
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if engagement.CodeOf(err) != engagement.CodeUnauthorized || engagement.MessageOf(err) != "invalid token: "+tt.problem {
				t.Fatalf("Verify error %v, want unauthorized %q", err, tt.problem)
			}
		})
	}
	// Without the settings the claims are not checked.
	if err := verifyErr(plain, claims("https://evil.example", "billing")); err != nil {
		t.Fatalf("unconfigured key refused a token for its iss/aud: %v", err)
	}
	issOnly, _ := New([]byte(secret), Config{Issuer: "https://shop.example"})
	if err := verifyErr(issOnly, claims("https://shop.example")); err != nil {
		t.Fatalf("issuer-only key refused a token without aud: %v", err)
	}
}

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

package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kudos-live/kudos/engagement"
)

// Claims are the JWT claims of a Kudos token (DESIGN.md, "Identity and roles").
type Claims struct {
	Name   string `json:"name,omitempty"`
	Role   string `json:"role"`
	Stream string `json:"stream,omitempty"`
	jwt.RegisteredClaims
}

// Tokens mints and verifies HS256 tokens with one secret.
type Tokens struct {
	secret []byte
}

// NewTokens returns Tokens over secret (at least 16 bytes).
func NewTokens(secret []byte) (*Tokens, error) {
	if len(secret) < 16 {
		return nil, errors.New("token secret must be at least 16 bytes")
	}
	return &Tokens{secret: secret}, nil
}

// RandomSecret returns a fresh 32-byte secret (development mode: tokens die with the process).
func RandomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return b
}

// validRoles are the roles a token may carry.
var validRoles = []string{engagement.RoleViewer, engagement.RoleHost, engagement.RoleService, engagement.RoleAdmin}

// Mint signs a token for user with role, valid for ttl.
func (t *Tokens) Mint(user, name, role, stream string, ttl time.Duration) (string, time.Time, error) {
	if user == "" || !slices.Contains(validRoles, role) {
		return "", time.Time{}, fmt.Errorf("mint token: user must be set and role one of %s", strings.Join(validRoles, ", "))
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	c := Claims{Name: name, Role: role, Stream: stream, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token's signature, algorithm, expiry and claims and returns the actor it names.
func (t *Tokens) Verify(token string) (engagement.Actor, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return engagement.Actor{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: %s", tokenProblem(err))
	}
	if c.Subject == "" || !slices.Contains(validRoles, c.Role) {
		return engagement.Actor{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: missing subject or unknown role")
	}
	name := c.Name
	if name == "" {
		name = c.Subject
	}
	return engagement.Actor{User: c.Subject, Name: name, Role: c.Role, Stream: c.Stream}, nil
}

// tokenProblem names what was wrong without echoing the token.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	default:
		return "rejected"
	}
}

// guestUser returns a random user id for a guest.
func guestUser() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "guest-" + hex.EncodeToString(b)
}

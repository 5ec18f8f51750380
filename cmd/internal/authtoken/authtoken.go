// Package authtoken mints and verifies Kudos's bearer tokens: HS256 JWTs naming a user, a role and, for a
// host, the stream. The server verifies them; `kudos token` and the bench mint them without the HTTP layer.
package authtoken

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kudos-live/kudos/engagement"
)

// Claims are the JWT claims of a Kudos token (docs/protocol.md, "Connecting").
type Claims struct {
	Name   string `json:"name,omitempty"`
	Role   string `json:"role"`
	Stream string `json:"stream,omitempty"`
	jwt.RegisteredClaims
}

// Key mints and verifies HS256 tokens with one secret.
type Key struct {
	secret []byte
}

// NewKey returns a Key over secret (at least 16 bytes).
func NewKey(secret []byte) (*Key, error) {
	if len(secret) < 16 {
		return nil, errors.New("token secret must be at least 16 bytes")
	}
	return &Key{secret: secret}, nil
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
func (k *Key) Mint(user, name, role, stream string, ttl time.Duration) (string, time.Time, error) {
	if user == "" || !slices.Contains(validRoles, role) {
		return "", time.Time{}, fmt.Errorf("mint token: user must be set and role one of %s", strings.Join(validRoles, ", "))
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	c := Claims{Name: name, Role: role, Stream: stream, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token's signature, algorithm, expiry and claims and returns the actor it names. Its
// errors are engagement unauthorized errors, ready for a problem body.
func (k *Key) Verify(token string) (engagement.Actor, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return engagement.Actor{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: %s", problem(err))
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

// problem names what was wrong without echoing the token.
func problem(err error) string {
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

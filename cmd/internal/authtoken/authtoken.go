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

// Config sets what a Key demands of the tokens it verifies, and writes into those it mints. The zero value
// works: tokens living at most a day, no issuer or audience.
type Config struct {
	// MaxLifetime refuses tokens that live longer: exp-iat, or exp-now for a token without iat (or one that
	// claims to be issued in the future), may not exceed it, so that a leaked token cannot be one that never
	// expires. Default 24 h (a guest token's lifetime and `kudos token`'s default); negative: no limit.
	MaxLifetime time.Duration
	// Issuer, when set, is written as iss into minted tokens, and tokens without that iss are refused.
	Issuer string
	// Audience, when set, is written as aud into minted tokens, and tokens whose aud does not name it are
	// refused.
	Audience string
}

// DefaultMaxLifetime is Config.MaxLifetime's default.
const DefaultMaxLifetime = 24 * time.Hour

// leeway is the clock skew tolerated between the issuer and this server, on every time claim.
const leeway = 5 * time.Second

// Key mints and verifies HS256 tokens with one secret.
type Key struct {
	secret []byte
	cfg    Config
}

// NewKey returns a Key over secret (at least 16 bytes) with the default Config.
func NewKey(secret []byte) (*Key, error) {
	return New(secret, Config{})
}

// New returns a Key over secret (at least 16 bytes) that verifies and mints as cfg says.
func New(secret []byte, cfg Config) (*Key, error) {
	if len(secret) < 16 {
		return nil, errors.New("token secret must be at least 16 bytes")
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	return &Key{secret: secret, cfg: cfg}, nil
}

// RandomSecret returns a fresh 32-byte secret (development mode: tokens die with the process).
func RandomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return b
}

// validRoles are the roles a token may carry.
var validRoles = []string{engagement.RoleViewer, engagement.RoleHost, engagement.RoleService, engagement.RoleAdmin}

// Mint signs a token for user with role, valid for ttl, with the Key's issuer and audience if it has them.
// It mints what Verify would refuse (a ttl over MaxLifetime, a past expiry) without complaint: tests and
// operators need such tokens, and the server is the one that refuses them.
func (k *Key) Mint(user, name, role, stream string, ttl time.Duration) (string, time.Time, error) {
	if user == "" || !slices.Contains(validRoles, role) {
		return "", time.Time{}, fmt.Errorf("mint token: user must be set and role one of %s", strings.Join(validRoles, ", "))
	}
	now := time.Now()
	exp := now.Add(ttl).Truncate(time.Second)
	c := Claims{Name: name, Role: role, Stream: stream, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    k.cfg.Issuer,
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	if k.cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{k.cfg.Audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token's signature, algorithm, expiry, lifetime, issuer, audience and claims and returns
// the actor it names. Its errors are engagement unauthorized errors, ready for a problem body.
func (k *Key) Verify(token string) (engagement.Actor, error) {
	act, _, err := k.VerifyExpiry(token)
	return act, err
}

// VerifyExpiry is Verify that also returns when the token expires: a socket opened with it closes then.
func (k *Key) VerifyExpiry(token string) (engagement.Actor, time.Time, error) {
	var c Claims
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if k.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(k.cfg.Issuer))
	}
	if k.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(k.cfg.Audience))
	}
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil }, opts...)
	if err != nil {
		return engagement.Actor{}, time.Time{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: %s", k.problem(err, &c))
	}
	if c.Subject == "" || !slices.Contains(validRoles, c.Role) {
		return engagement.Actor{}, time.Time{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: missing subject or unknown role")
	}
	exp := c.ExpiresAt.Time
	if k.tooLong(exp, c.IssuedAt, time.Now()) {
		return engagement.Actor{}, time.Time{}, engagement.Errorf(engagement.CodeUnauthorized, "invalid token: lifetime longer than %s", k.cfg.MaxLifetime)
	}
	name := c.Name
	if name == "" {
		name = c.Subject
	}
	return engagement.Actor{User: c.Subject, Name: name, Role: c.Role, Stream: c.Stream}, exp, nil
}

// tooLong reports whether a token expiring at exp, issued at iat (nil if it says nothing), lives longer than
// MaxLifetime: counted from iat, and from now as well, so that a missing or future-dated iat gains nothing.
func (k *Key) tooLong(exp time.Time, iat *jwt.NumericDate, now time.Time) bool {
	if k.cfg.MaxLifetime < 0 {
		return false
	}
	limit := k.cfg.MaxLifetime + leeway
	if iat != nil && exp.Sub(iat.Time) > limit {
		return true
	}
	return exp.Sub(now) > limit
}

// problem names what was wrong without echoing the token. c holds the claims as far as they were read
// (only trusted once the signature checked out, which jwt verifies before the claims).
func (k *Key) problem(err error, c *Claims) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case k.cfg.Issuer != "" && c.Issuer != k.cfg.Issuer:
		return "wrong or missing issuer"
	case k.cfg.Audience != "" && !slices.Contains(c.Audience, k.cfg.Audience):
		return "wrong or missing audience"
	default:
		return "rejected"
	}
}

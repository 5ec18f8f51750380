package stream

import (
	"fmt"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestHandshakeLimiterBurstThenRate: a user gets the burst at once, then one handshake per 1/rate; the
// refusal says how long to wait.
func TestHandshakeLimiterBurstThenRate(t *testing.T) {
	l := newHandshakeLimiter(1, 10, -1, 0, 100)
	for i := range 10 {
		if ok, _ := l.allow("ann", "10.0.0.1", t0); !ok {
			t.Fatalf("handshake %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("ann", "10.0.0.1", t0)
	if ok || wait != time.Second {
		t.Fatalf("11th at once: %v, wait %v; want refused, wait 1s", ok, wait)
	}
	if ok, _ := l.allow("bob", "10.0.0.1", t0); !ok {
		t.Fatal("another user was refused: buckets are per user")
	}
	if ok, wait := l.allow("ann", "10.0.0.1", t0.Add(500*time.Millisecond)); ok || wait != 500*time.Millisecond {
		t.Fatalf("half a second later: %v, wait %v; want refused, wait 500ms", ok, wait)
	}
	if ok, _ := l.allow("ann", "10.0.0.1", t0.Add(time.Second)); !ok {
		t.Fatal("a second later: refused, want the refilled token")
	}
	// A steady abuser gets exactly the rate: 60 more in the next minute, trying 4 times a second.
	allowed := 0
	for k := 1; k <= 240; k++ {
		if ok, _ := l.allow("ann", "10.0.0.1", t0.Add(time.Second+time.Duration(k)*250*time.Millisecond)); ok {
			allowed++
		}
	}
	if allowed != 60 {
		t.Fatalf("%d handshakes allowed in a minute of hammering, want 60", allowed)
	}
}

// TestHandshakeLimiterAddressShared: users behind one address share its bucket, and a handshake refused for
// one bucket takes nothing from the other.
func TestHandshakeLimiterAddressShared(t *testing.T) {
	l := newHandshakeLimiter(1, 2, 1, 3, 100)
	for i, u := range []string{"a", "b", "c"} {
		if ok, _ := l.allow(u, "nat", t0); !ok {
			t.Fatalf("user %d refused", i)
		}
	}
	if ok, _ := l.allow("d", "nat", t0); ok {
		t.Fatal("a fourth user from the address was allowed past its burst of 3")
	}
	if ok, _ := l.allow("d", "elsewhere", t0); !ok {
		t.Fatal("the refusal for the address took d's own token")
	}
	// a is at 1 token of 2; refusing a for its own bucket leaves the address's untouched.
	l2 := newHandshakeLimiter(1, 1, 1, 2, 100)
	l2.allow("a", "nat", t0)
	if ok, _ := l2.allow("a", "nat", t0); ok {
		t.Fatal("a's second handshake allowed past its burst of 1")
	}
	if ok, _ := l2.allow("b", "nat", t0); !ok {
		t.Fatal("a's refused handshake drained the address's bucket")
	}
}

// TestHandshakeLimiterBoundedMemory: idle buckets are forgotten once full again, and no more than the cap are
// tracked however many keys come.
func TestHandshakeLimiterBoundedMemory(t *testing.T) {
	l := newHandshakeLimiter(1, 10, 20, 200, 1000)
	for i := range 5000 {
		l.allow(fmt.Sprint("user-", i), fmt.Sprint("10.0.", i/256, ".", i%256), t0)
	}
	if u, a := l.size(); u != 1000 || a != 1000 {
		t.Fatalf("tracking %d users and %d addresses, want the cap of 1000 each", u, a)
	}
	// The most recent keys are the ones kept: the last user is still limited.
	for range 9 {
		l.allow("user-4999", "10.0.19.135", t0)
	}
	if ok, _ := l.allow("user-4999", "10.0.19.135", t0); ok {
		t.Fatal("the most recent user lost its bucket to the cap")
	}
	// 10 s later every bucket is full again (burst 10 at 1/s; 200 at 20/s): the next call forgets them all.
	l.allow("late", "10.9.9.9", t0.Add(10*time.Second))
	if u, a := l.size(); u != 1 || a != 1 {
		t.Fatalf("after every bucket refilled: %d users and %d addresses tracked, want only the newest", u, a)
	}
}

// TestHandshakeLimiterOff: a rate that is not a positive finite number, or no burst, means no limit.
func TestHandshakeLimiterOff(t *testing.T) {
	for _, r := range []float64{-1, 0, math.Inf(1)} {
		l := newHandshakeLimiter(r, 10, r, 10, 100)
		for i := range 1000 {
			if ok, _ := l.allow("ann", "nat", t0); !ok {
				t.Fatalf("rate %v: handshake %d refused", r, i)
			}
		}
		if u, a := l.size(); u != 0 || a != 0 {
			t.Fatalf("rate %v: tracking %d users, %d addresses with no limit", r, u, a)
		}
	}
}

// TestHandshakeDefaults: 1/s burst 10 per user, 20/s with a burst of the per-address connection limit per
// address, off per address when that limit is off (every socket from a load balancer).
func TestHandshakeDefaults(t *testing.T) {
	var c Config
	c.applyDefaults()
	if c.HandshakeRate != 1 || c.HandshakeBurst != 10 || c.HandshakeIPRate != 20 || c.HandshakeIPBurst != 1000 || c.HandshakeKeys != 1<<16 {
		t.Fatalf("defaults %v/%d per user, %v/%d per address, %d keys", c.HandshakeRate, c.HandshakeBurst, c.HandshakeIPRate, c.HandshakeIPBurst, c.HandshakeKeys)
	}
	big := Config{MaxConnsPerIP: 5000}
	big.applyDefaults()
	if big.HandshakeIPBurst != 5000 {
		t.Fatalf("MaxConnsPerIP 5000: per-address burst %d, want 5000", big.HandshakeIPBurst)
	}
	behindProxy := Config{MaxConnsPerIP: -1}
	behindProxy.applyDefaults()
	if behindProxy.HandshakeIPRate >= 0 {
		t.Fatalf("MaxConnsPerIP -1: per-address handshake rate %v, want off", behindProxy.HandshakeIPRate)
	}
	explicit := Config{MaxConnsPerIP: -1, HandshakeIPRate: 5}
	explicit.applyDefaults()
	if explicit.HandshakeIPRate != 5 {
		t.Fatalf("an explicit per-address rate was overridden: %v", explicit.HandshakeIPRate)
	}
}

package stream

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// handshakeLimiter rate-limits socket handshakes with a token bucket per user and one per remote address. A
// handshake takes a token from both buckets or from neither, so that a refusal costs nothing: an abuser
// hammering at a full bucket does not drain their address's bucket for the others behind the same NAT.
//
// Memory is bounded: a bucket that has been idle long enough to be full again is the same as no bucket and
// is forgotten (checked from the least recently used end on every call, so no goroutine sweeps), and each
// set tracks at most maxKeys keys, dropping the least recently used beyond that.
type handshakeLimiter struct {
	mu   sync.Mutex
	user *bucketSet // nil: no per-user limit
	ip   *bucketSet // nil: no per-address limit
}

func newHandshakeLimiter(userRate float64, userBurst int, ipRate float64, ipBurst int, maxKeys int) *handshakeLimiter {
	return &handshakeLimiter{user: newBucketSet(userRate, userBurst, maxKeys), ip: newBucketSet(ipRate, ipBurst, maxKeys)}
}

// allow takes a token for user and ip at now, or reports how long until both have one.
func (l *handshakeLimiter) allow(user, ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, c := range []struct {
		set *bucketSet
		key string
	}{{l.user, user}, {l.ip, ip}} {
		if c.set == nil {
			continue
		}
		c.set.evictIdle(now)
		if w := c.set.waitFor(c.key, now); w > wait {
			wait = w
		}
	}
	if wait > 0 {
		return false, wait
	}
	if l.user != nil {
		l.user.take(user, now)
	}
	if l.ip != nil {
		l.ip.take(ip, now)
	}
	return true, 0
}

// size returns how many users and addresses are tracked.
func (l *handshakeLimiter) size() (users, ips int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.user != nil {
		users = len(l.user.keys)
	}
	if l.ip != nil {
		ips = len(l.ip.keys)
	}
	return users, ips
}

// bucketSet is a token bucket per key, least recently used last.
type bucketSet struct {
	rate    float64 // tokens a second
	burst   float64
	full    time.Duration // how long an empty bucket takes to fill
	maxKeys int
	keys    map[string]*list.Element
	lru     list.List // of *bucket, most recently used first
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time // of the last refill
	used   time.Time // of the last take
}

// newBucketSet returns nil (no limit) for a rate that is not a positive finite number.
func newBucketSet(rate float64, burst int, maxKeys int) *bucketSet {
	if !(rate > 0) || math.IsInf(rate, 1) || burst < 1 {
		return nil
	}
	return &bucketSet{
		rate:    rate,
		burst:   float64(burst),
		full:    time.Duration(float64(burst) / rate * float64(time.Second)),
		maxKeys: max(maxKeys, 1),
		keys:    map[string]*list.Element{},
	}
}

// level returns b's tokens at now.
func (s *bucketSet) level(b *bucket, now time.Time) float64 {
	if d := now.Sub(b.at); d > 0 {
		return min(s.burst, b.tokens+d.Seconds()*s.rate)
	}
	return b.tokens
}

// waitFor returns how long until key has a whole token (0: it has one now).
func (s *bucketSet) waitFor(key string, now time.Time) time.Duration {
	e, ok := s.keys[key]
	if !ok {
		return 0
	}
	tokens := s.level(e.Value.(*bucket), now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / s.rate * float64(time.Second))
}

// take removes one token from key's bucket, creating it full (and evicting the least recently used key if
// the set is at its cap).
func (s *bucketSet) take(key string, now time.Time) {
	e, ok := s.keys[key]
	if !ok {
		for len(s.keys) >= s.maxKeys {
			s.remove(s.lru.Back())
		}
		e = s.lru.PushFront(&bucket{key: key, tokens: s.burst, at: now})
		s.keys[key] = e
	}
	b := e.Value.(*bucket)
	b.tokens = s.level(b, now) - 1
	b.at, b.used = now, now
	s.lru.MoveToFront(e)
}

// evictIdle forgets the buckets full again by now: from the least recently used end, until one is not.
func (s *bucketSet) evictIdle(now time.Time) {
	for e := s.lru.Back(); e != nil; e = s.lru.Back() {
		if b := e.Value.(*bucket); now.Sub(b.used) < s.full {
			return
		}
		s.remove(e)
	}
}

func (s *bucketSet) remove(e *list.Element) {
	delete(s.keys, e.Value.(*bucket).key)
	s.lru.Remove(e)
}

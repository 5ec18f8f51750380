package engagement

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/redis/go-redis/v9"
)

// testRedis returns a client of the test Redis and a key prefix of the test's own (see testenv.Redis).
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return testenv.Redis(t)
}

func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	rdb, prefix := testRedis(t)
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

func TestRedisStoreConformance(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runStoreConformance(t, newTestRedisStore)
}

// TestRedisStoreTwoNodes checks that two stores on separate clients (two nodes) see one state.
func TestRedisStoreTwoNodes(t *testing.T) {
	rdb, prefix := testRedis(t)
	opts := *rdb.Options()
	other := redis.NewClient(&opts)
	t.Cleanup(func() { _ = other.Close() })
	a := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	b := NewRedisStore(other, RedisConfig{Prefix: prefix})
	ctx := context.Background()

	if err := a.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream on a: %v", err)
	}
	wantCode(t, "CreateStream of the same id on b", b.CreateStream(ctx, testStream("s1")), ErrDuplicate)
	if err := a.AddComment(ctx, "s1", testComment(1), 10); err != nil {
		t.Fatalf("AddComment on a: %v", err)
	}
	if removed, err := b.RemoveComment(ctx, "s1", "c1"); err != nil || !removed {
		t.Errorf("RemoveComment on b = %v, %v; want true, nil", removed, err)
	}
	if _, err := a.AddLikes(ctx, "s1", 5); err != nil {
		t.Fatalf("AddLikes on a: %v", err)
	}
	if n, err := b.AddLikes(ctx, "s1", 1); err != nil || n != 6 {
		t.Errorf("AddLikes on b = %d, %v; want 6, nil", n, err)
	}
	if ok, _, err := a.TakeSlot(ctx, "s1", "u1", time.Minute, conformanceT0); err != nil || !ok {
		t.Fatalf("TakeSlot on a = %v, %v; want true, nil", ok, err)
	}
	if ok, left, err := b.TakeSlot(ctx, "s1", "u1", time.Minute, conformanceT0.Add(time.Second)); err != nil || ok || left != 59*time.Second {
		t.Errorf("TakeSlot on b = %v, %v, %v; want false, 59s, nil", ok, left, err)
	}
}

// TestRedisStoreKeys checks the documented layout and that hot keys expire StreamTTL after a write.
func TestRedisStoreKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	if err := s.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if err := s.AddComment(ctx, "s1", testComment(1), 10); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if _, err := s.RemoveComment(ctx, "s1", "c1"); err != nil {
		t.Fatalf("RemoveComment: %v", err)
	}
	if _, err := s.UpdateModeration(ctx, "s1", func(m *Moderation) error { m.SlowModeS = 5; return nil }); err != nil {
		t.Fatalf("UpdateModeration: %v", err)
	}
	if _, err := s.AddLikes(ctx, "s1", 1); err != nil {
		t.Fatalf("AddLikes: %v", err)
	}
	if err := s.AddComment(ctx, "s1", testComment(2), 10); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if _, _, err := s.TakeSlot(ctx, "s1", "u1", 30*time.Second, time.Now()); err != nil {
		t.Fatalf("TakeSlot: %v", err)
	}
	tests := []struct {
		key     string
		typ     string
		ttlFrom time.Duration // a TTL in (ttlFrom, ttlTo]; -1 for none
		ttlTo   time.Duration
	}{
		{"stream:{s1}", "string", -1, -1},
		{"stream:{s1}:comments", "list", ttl - time.Minute, ttl},
		{"stream:{s1}:removed", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:mod", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:likes", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:slot:u1", "string", 0, 30 * time.Second},
	}
	for _, tt := range tests {
		key := prefix + tt.key
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		if typ != tt.typ {
			t.Errorf("TYPE %s = %s, want %s", tt.key, typ, tt.typ)
		}
		got, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if tt.ttlFrom < 0 {
			if got != -1 {
				t.Errorf("PTTL %s = %v, want none", tt.key, got)
			}
			continue
		}
		if got <= tt.ttlFrom || got > tt.ttlTo {
			t.Errorf("PTTL %s = %v, want in (%v, %v]", tt.key, got, tt.ttlFrom, tt.ttlTo)
		}
	}
}

// TestRedisStoreUnavailable checks that a Redis that cannot be reached yields errors that match
// ErrUnavailable, carry the cause for logs, and show clients nothing of it. It needs no Redis.
func TestRedisStoreUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewRedisStore(rdb, RedisConfig{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateStream", func() error { return s.CreateStream(ctx, testStream("s1")) }},
		{"Stream", func() error { _, err := s.Stream(ctx, "s1"); return err }},
		{"UpdateStream", func() error {
			_, err := s.UpdateStream(ctx, "s1", func(*Stream) error { return nil })
			return err
		}},
		{"AddComment", func() error { return s.AddComment(ctx, "s1", testComment(1), 10) }},
		{"RecentComments", func() error { _, err := s.RecentComments(ctx, "s1", 10); return err }},
		{"RemoveComment", func() error { _, err := s.RemoveComment(ctx, "s1", "c1"); return err }},
		{"Moderation", func() error { _, err := s.Moderation(ctx, "s1"); return err }},
		{"UpdateModeration", func() error {
			_, err := s.UpdateModeration(ctx, "s1", func(*Moderation) error { return nil })
			return err
		}},
		{"TakeSlot", func() error { _, _, err := s.TakeSlot(ctx, "s1", "u1", time.Second, time.Now()); return err }},
		{"AddLikes", func() error { _, err := s.AddLikes(ctx, "s1", 1); return err }},
		{"Likes", func() error { _, err := s.Likes(ctx, "s1"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want one matching ErrUnavailable", err)
			}
			if got := CodeOf(err); got != CodeUnavailable {
				t.Errorf("CodeOf = %s, want %s", got, CodeUnavailable)
			}
			if msg := MessageOf(err); strings.Contains(msg, "127.0.0.1") {
				t.Errorf("MessageOf = %q shows the backend to clients", msg)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("err = %q, want the cause kept for logs", err)
			}
		})
	}
}

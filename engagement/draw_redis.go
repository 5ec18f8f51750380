package engagement

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Draws.

func (s *RedisStore) drawKey(stream, id string) string { return s.itemKey(stream, "draw", id) }

// drawFields returns the draw hash's field/values; the seed is a field of its own, as Draw's JSON omits it.
func drawFields(d Draw) ([]any, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode draw %s: %w", d.ID, err)
	}
	return []any{"json", b, "seed", d.Seed, "status", d.Status, "opens", d.OpensAt.UnixMicro()}, nil
}

// getDraw reads a draw, seed included, through c.
func (s *RedisStore) getDraw(ctx context.Context, c redis.Cmdable, stream, id string) (Draw, error) {
	v, err := c.HMGet(ctx, s.drawKey(stream, id), "json", "seed").Result()
	if err != nil {
		return Draw{}, unavailable("get draw "+id+" of "+stream, err)
	}
	h := replyStrings(v)
	if h[0] == "" {
		return Draw{}, ErrNotFound
	}
	var d Draw
	if err := json.Unmarshal([]byte(h[0]), &d); err != nil {
		return Draw{}, fmt.Errorf("decode draw %s: %w", id, err)
	}
	d.Seed = h[1]
	return d, nil
}

// CreateDraw implements DrawStore with one script.
func (s *RedisStore) CreateDraw(ctx context.Context, stream string, d Draw) error {
	if !validItemID(d.ID) {
		return fmt.Errorf("draw id %q cannot be stored: %w", d.ID, ErrInvalid)
	}
	fields, err := drawFields(d)
	if err != nil {
		return err
	}
	return s.createItem(ctx, "draw", stream, d.ID, s.drawKey(stream, d.ID), s.streamSubKey(stream, "draw"), "set", fields)
}

// Draw implements DrawStore.
func (s *RedisStore) Draw(ctx context.Context, stream, id string) (Draw, error) {
	if !validItemID(id) {
		return Draw{}, ErrNotFound
	}
	return s.getDraw(ctx, s.rdb, stream, id)
}

// CurrentDraw implements DrawStore.
func (s *RedisStore) CurrentDraw(ctx context.Context, stream string) (Draw, error) {
	return currentItem(ctx, s, "get current draw of "+stream, s.streamSubKey(stream, "draw"),
		func(id string) (Draw, error) { return s.Draw(ctx, stream, id) })
}

// UpdateDraw implements DrawStore with WATCH/MULTI, as UpdateStream.
func (s *RedisStore) UpdateDraw(ctx context.Context, stream, id string, fn func(*Draw) error) (Draw, error) {
	if !validItemID(id) {
		return Draw{}, ErrNotFound
	}
	d, err := updateItem(ctx, s, "update draw "+id+" of "+stream, s.drawKey(stream, id),
		func(c redis.Cmdable) (Draw, error) { return s.getDraw(ctx, c, stream, id) }, fn, drawFields)
	return cloneDraw(d), err
}

// enterDrawScript adds an entrant once. KEYS: draw hash, entrants. ARGV: user, entrant JSON, now µs, ttl ms,
// open status.
var enterDrawScript = luaScript("draw_enter.lua")

// EnterDraw implements DrawStore with one script.
func (s *RedisStore) EnterDraw(ctx context.Context, stream, id string, e DrawEntrant, now time.Time) error {
	if !validItemID(id) {
		return ErrNotFound
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode entrant %s of draw %s: %w", e.User, id, err)
	}
	key := s.drawKey(stream, id)
	res, _, err := s.runScript(ctx, "enter draw "+id+" of "+stream, enterDrawScript,
		[]string{key, key + ":entrants"}, e.User, b, now.UnixMicro(), ttlMS(s.ttl), DrawOpen)
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "not_found":
		return ErrNotFound
	case "closed":
		return ErrClosed
	case "not_yet":
		return ErrNotOpenYet
	case "duplicate":
		return ErrDuplicate
	}
	return fmt.Errorf("enter draw %s: unexpected script outcome %q", id, res)
}

// DrawEntrants implements DrawStore.
func (s *RedisStore) DrawEntrants(ctx context.Context, stream, id string) ([]DrawEntrant, error) {
	if !validItemID(id) {
		return nil, ErrNotFound
	}
	key := s.drawKey(stream, id)
	var exists *redis.IntCmd
	var vals *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, key)
		vals = p.HVals(ctx, key+":entrants")
		return nil
	})
	if err != nil {
		return nil, unavailable("get entrants of draw "+id+" of "+stream, err)
	}
	if exists.Val() == 0 {
		return nil, ErrNotFound
	}
	es := make([]DrawEntrant, 0, len(vals.Val()))
	for _, r := range vals.Val() {
		var e DrawEntrant
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode entrant of draw %s: %w", id, err)
		}
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b DrawEntrant) int { return cmp.Compare(a.User, b.User) })
	return es, nil
}

// MarkCommenter implements DrawStore: SADD and PEXPIRE in one MULTI.
func (s *RedisStore) MarkCommenter(ctx context.Context, stream, user string) error {
	key := s.streamSubKey(stream, "commenters")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key, user)
		p.PExpire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return unavailable("mark commenter "+user+" of "+stream, err)
	}
	return nil
}

// HasCommented implements DrawStore.
func (s *RedisStore) HasCommented(ctx context.Context, stream, user string) (bool, error) {
	v, err := s.rdb.SIsMember(ctx, s.streamSubKey(stream, "commenters"), user).Result()
	if err != nil {
		return false, unavailable("check commenter "+user+" of "+stream, err)
	}
	return v, nil
}

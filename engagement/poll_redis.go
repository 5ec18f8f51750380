package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Polls.

// getPollScript reads a poll in one step. KEYS: poll hash, counts.
var getPollScript = luaScript("poll_reply.lua", "poll_get.lua")

// openPollScript opens a poll unless the current one is open. KEYS: pointer, poll hash, counts, voters.
// ARGV: id, ttl ms, open status, then the poll hash's field/values. Returns 'open', 'exists' or 'ok'.
var openPollScript = luaScript("poll_open.lua")

// votePollScript checks and counts a vote. KEYS: poll hash, counts, poll voters, stream voters, pointer
// (only its TTL is renewed, so that it lives as long as the poll it may name). ARGV: user, option, now µs, ttl ms, open status.
var votePollScript = luaScript("poll_reply.lua", "poll_vote.lua")

// closePollScript closes a poll once. KEYS: poll hash, counts, pointer. ARGV: id, closed_at, ttl ms, closed
// status. Returns 'not_found', or 'closed' (this call closed it) / 'already' with the poll.
var closePollScript = luaScript("poll_reply.lua", "poll_close.lua")

func (s *RedisStore) pollKeys(stream, id string) (poll, counts, voters string) {
	poll = s.itemKey(stream, "poll", id)
	return poll, poll + ":counts", poll + ":voters"
}

// decodePoll builds a Poll from a poll_reply's data: json, status, closed_at, total, count pairs.
func decodePoll(id string, data []string) (Poll, error) {
	if len(data) < 4 {
		return Poll{}, fmt.Errorf("decode poll %s: short reply", id)
	}
	var p Poll
	if err := json.Unmarshal([]byte(data[0]), &p); err != nil {
		return Poll{}, fmt.Errorf("decode poll %s: %w", id, err)
	}
	p.Status = data[1]
	if data[2] != "" {
		t, err := time.Parse(time.RFC3339Nano, data[2])
		if err != nil {
			return Poll{}, fmt.Errorf("decode poll %s closing time: %w", id, err)
		}
		p.ClosedAt = t
	}
	var err error
	if p.Total, err = strconv.ParseInt(data[3], 10, 64); err != nil {
		return Poll{}, fmt.Errorf("decode poll %s total: %w", id, err)
	}
	p.Counts = make([]int64, len(p.Options))
	for k, v := range pairs(data[4:]) {
		i, err1 := strconv.Atoi(k)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return Poll{}, fmt.Errorf("decode poll %s counts: %w", id, err)
		}
		if i >= 0 && i < len(p.Counts) {
			p.Counts[i] = n
		}
	}
	return p, nil
}

// OpenPoll implements PollStore with one script.
func (s *RedisStore) OpenPoll(ctx context.Context, stream string, p Poll) error {
	if !validItemID(p.ID) {
		return fmt.Errorf("poll id %q cannot be stored: %w", p.ID, ErrInvalid)
	}
	p = clonePoll(p)
	p.Status, p.Total, p.Counts, p.ClosedAt = PollOpen, 0, nil, time.Time{}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode poll %s: %w", p.ID, err)
	}
	closes := ""
	if !p.ClosesAt.IsZero() {
		closes = strconv.FormatInt(p.ClosesAt.UnixMicro(), 10)
	}
	key, counts, voters := s.pollKeys(stream, p.ID)
	op := "open poll " + p.ID + " on " + stream
	res, _, err := s.runScript(ctx, op, openPollScript, []string{s.streamSubKey(stream, "poll"), key, counts, voters},
		p.ID, ttlMS(s.ttl), PollOpen,
		"json", b, "status", PollOpen, "opens", p.OpensAt.UnixMicro(), "closes", closes, "options", len(p.Options), "total", 0)
	switch {
	case err != nil:
		return err
	case res == "open":
		return ErrStillOpen
	case res == "exists":
		return ErrDuplicate
	}
	return nil
}

// Poll implements PollStore.
func (s *RedisStore) Poll(ctx context.Context, stream, id string) (Poll, error) {
	if !validItemID(id) {
		return Poll{}, ErrNotFound
	}
	key, counts, _ := s.pollKeys(stream, id)
	res, data, err := s.runScript(ctx, "get poll "+id+" of "+stream, getPollScript, []string{key, counts})
	if err != nil {
		return Poll{}, err
	}
	if res == "not_found" {
		return Poll{}, ErrNotFound
	}
	return decodePoll(id, data)
}

// CurrentPoll implements PollStore.
func (s *RedisStore) CurrentPoll(ctx context.Context, stream string) (Poll, error) {
	id, err := s.rdb.HGet(ctx, s.streamSubKey(stream, "poll"), "id").Result()
	if errors.Is(err, redis.Nil) {
		return Poll{}, ErrNotFound
	}
	if err != nil {
		return Poll{}, unavailable("get current poll of "+stream, err)
	}
	p, err := s.Poll(ctx, stream, id)
	if errors.Is(err, ErrNotFound) {
		return Poll{}, ErrNotFound
	}
	return p, err
}

// VotePoll implements PollStore with one script: the checks, the voter set and the tally are one step.
func (s *RedisStore) VotePoll(ctx context.Context, stream, id, user string, option int, now time.Time) (Poll, error) {
	if !validItemID(id) {
		return Poll{}, ErrNotFound
	}
	key, counts, voters := s.pollKeys(stream, id)
	res, data, err := s.runScriptWait(ctx, "vote in poll "+id+" of "+stream, s.wait, votePollScript,
		[]string{key, counts, voters, s.streamSubKey(stream, "voters"), s.streamSubKey(stream, "poll")},
		user, option, now.UnixMicro(), ttlMS(s.ttl), PollOpen)
	if err != nil {
		return Poll{}, err
	}
	switch res {
	case "ok":
		return decodePoll(id, data)
	case "not_found":
		return Poll{}, ErrNotFound
	case "closed":
		return Poll{}, ErrClosed
	case "not_yet":
		return Poll{}, ErrNotOpenYet
	case "invalid":
		return Poll{}, ErrInvalid
	case "duplicate":
		return Poll{}, ErrDuplicate
	}
	return Poll{}, fmt.Errorf("vote in poll %s: unexpected script outcome %q", id, res)
}

// ClosePoll implements PollStore with one script.
func (s *RedisStore) ClosePoll(ctx context.Context, stream, id string, now time.Time) (Poll, bool, error) {
	if !validItemID(id) {
		return Poll{}, false, ErrNotFound
	}
	key, counts, _ := s.pollKeys(stream, id)
	res, data, err := s.runScript(ctx, "close poll "+id+" of "+stream, closePollScript,
		[]string{key, counts, s.streamSubKey(stream, "poll")},
		id, now.UTC().Format(time.RFC3339Nano), ttlMS(s.ttl), PollClosed)
	if err != nil {
		return Poll{}, false, err
	}
	if res == "not_found" {
		return Poll{}, false, ErrNotFound
	}
	p, err := decodePoll(id, data)
	if err != nil {
		return Poll{}, false, err
	}
	return p, res == "closed", nil
}

// HasVoted implements PollStore.
func (s *RedisStore) HasVoted(ctx context.Context, stream, user string) (bool, error) {
	v, err := s.rdb.SIsMember(ctx, s.streamSubKey(stream, "voters"), user).Result()
	if err != nil {
		return false, unavailable("check voter "+user+" of "+stream, err)
	}
	return v, nil
}

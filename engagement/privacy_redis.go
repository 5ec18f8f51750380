package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis part of PrivacyStore (the key layout in redis.go):
//
//	user:{user}:streams   zset    the streams user took part in or joined (member), score the last note (µs);
//	                              the newest MaxUserStreams kept, Retention after the last note
//	user:{user}:erased    string  "1": user was erased; ErasedMarkTTL
//
// Export and erasure read the keys of the user's streams: one SCAN of the stream keys (incremental, never
// blocking the server; on a cluster, on every primary), keeping those of the indexed streams, then each
// value that mentions the user. A value is rewritten only if it is still what was read (privacyReplaceScript),
// so a concurrent write to it is never lost: the erased mark, set first, stops the user's own writes.

var privacyReplaceScript = luaScript("privacy_replace.lua")

func (s *RedisStore) userStreamsKey(user string) string {
	return s.prefix + "user:{" + user + "}:streams"
}
func (s *RedisStore) erasedKey(user string) string { return s.prefix + "user:{" + user + "}:erased" }

// NoteParticipant implements PrivacyStore.
func (s *RedisStore) NoteParticipant(ctx context.Context, user, stream string, now time.Time) error {
	key := s.userStreamsKey(user)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMicro()), Member: stream})
		p.ZRemRangeByRank(ctx, key, 0, -MaxUserStreams-1)
		p.PExpire(ctx, key, s.retention)
		return nil
	})
	if err != nil {
		return unavailable("note "+user+" on "+stream, err)
	}
	return nil
}

// MarkErased implements PrivacyStore.
func (s *RedisStore) MarkErased(ctx context.Context, user string) error {
	if err := s.rdb.Set(ctx, s.erasedKey(user), "1", ErasedMarkTTL).Err(); err != nil {
		return unavailable("mark "+user+" erased", err)
	}
	return nil
}

// Erased implements PrivacyStore.
func (s *RedisStore) Erased(ctx context.Context, user string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.erasedKey(user)).Result()
	if err != nil {
		return false, unavailable("read the erased mark of "+user, err)
	}
	return n > 0, nil
}

// userStreams returns the streams of user's index.
func (s *RedisStore) userStreams(ctx context.Context, user string) ([]string, error) {
	sts, err := s.rdb.ZRange(ctx, s.userStreamsKey(user), 0, -1).Result()
	if err != nil {
		return nil, unavailable("read the streams of "+user, err)
	}
	return sts, nil
}

// userKeys returns every key of the given streams, by stream, and the keys under user's own hash tag but the
// erased mark: one SCAN of the store's keys.
func (s *RedisStore) userKeys(ctx context.Context, user string, streams []string) (map[string][]string, []string, error) {
	byStream := map[string][]string{}
	var own []string
	want := map[string]bool{}
	for _, st := range streams {
		want[st] = true
	}
	base, mine := s.prefix+"stream:{", s.prefix+"user:{"+user+"}:"
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		it := c.Scan(ctx, 0, s.prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			k := it.Val()
			if strings.HasPrefix(k, mine) {
				if k != s.erasedKey(user) {
					own = append(own, k)
				}
				continue
			}
			rest, ok := strings.CutPrefix(k, base)
			if !ok {
				continue
			}
			if st, _, ok := strings.Cut(rest, "}"); ok && want[st] {
				byStream[st] = append(byStream[st], k)
			}
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		one := make(chan struct{}, 1) // ForEachMaster runs the primaries at once: one scan appends at a time
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			one <- struct{}{}
			defer func() { <-one }()
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, s.rdb)
	}
	if err != nil {
		return nil, nil, unavailable("scan the keys of "+user, err)
	}
	for st := range byStream {
		slices.Sort(byStream[st])
		byStream[st] = slices.Compact(byStream[st])
	}
	slices.Sort(own)
	return byStream, slices.Compact(own), nil
}

// keySuffix returns what follows "stream:{<stream>}:" in key.
func (s *RedisStore) keySuffix(stream, key string) string {
	return strings.TrimPrefix(key, s.streamKey(stream)+":")
}

// ExportUser implements PrivacyStore.
func (s *RedisStore) ExportUser(ctx context.Context, user string) (UserData, error) {
	d := newUserData(user)
	name := func(n string) {
		if n != "" {
			d.Names = append(d.Names, n)
		}
	}
	streams, err := s.userStreams(ctx, user)
	if err != nil {
		return UserData{}, err
	}
	keys, own, err := s.userKeys(ctx, user, streams)
	if err != nil {
		return UserData{}, err
	}
	fail := func(op string, err error) (UserData, error) {
		return UserData{}, unavailable(op+" for the export of "+user, err)
	}
	var replays []string // the streams with a replay, read once the recent histories are
	for _, st := range streams {
		for _, k := range keys[st] {
			suffix := s.keySuffix(st, k)
			parts := strings.Split(suffix, ":")
			switch {
			case suffix == "timeline":
				replays = append(replays, st)
			case suffix == "comments":
				vs, err := s.rdb.LRange(ctx, k, 0, -1).Result()
				if err != nil {
					return fail("read comments", err)
				}
				for _, v := range vs {
					var c Comment
					if json.Unmarshal([]byte(v), &c) == nil && c.User == user {
						d.Comments = append(d.Comments, UserComment{Stream: st, Comment: c})
						name(c.Name)
					}
				}
			case suffix == "questions":
				qs, err := s.Questions(ctx, st)
				if err != nil {
					return UserData{}, err
				}
				for _, q := range qs {
					if q.User == user {
						d.Questions = append(d.Questions, UserQuestion{Stream: st, Question: q})
						name(q.Name)
					}
				}
			case len(parts) == 3 && parts[0] == "poll" && parts[2] == "voters":
				ok, err := s.rdb.SIsMember(ctx, k, user).Result()
				if err != nil {
					return fail("read voters", err)
				}
				if ok {
					d.Votes = append(d.Votes, UserVote{Stream: st, Poll: parts[1]})
				}
			case len(parts) == 4 && parts[0] == "quiz" && parts[2] == "answers":
				vs, err := s.rdb.LRange(ctx, k, 0, -1).Result()
				if err != nil {
					return fail("read quiz answers", err)
				}
				for _, v := range vs {
					var r QuizResponse
					if json.Unmarshal([]byte(v), &r) == nil && r.User == user {
						d.QuizAnswers = append(d.QuizAnswers, UserQuizAnswer{Stream: st, Quiz: parts[1], QuizResponse: r})
						name(r.Name)
					}
				}
			case len(parts) == 3 && parts[0] == "quiz" && parts[2] == "players":
				v, err := s.rdb.HGet(ctx, k, user).Result()
				if errors.Is(err, redis.Nil) {
					continue
				} else if err != nil {
					return fail("read quiz players", err)
				}
				var p QuizPlayer
				if json.Unmarshal([]byte(v), &p) == nil {
					d.QuizScores = append(d.QuizScores, UserQuizScore{Stream: st, Quiz: parts[1], QuizPlayer: p})
				}
			case suffix == "feedback:given":
				for _, kind := range []string{FeedbackRating, FeedbackNPS} {
					ok, err := s.rdb.SIsMember(ctx, k, kind+":"+user).Result()
					if err != nil {
						return fail("read feedback", err)
					}
					if ok {
						d.Feedback = append(d.Feedback, UserFeedback{Stream: st, Kind: kind})
					}
				}
			case len(parts) == 3 && parts[0] == "coupon" && parts[2] == "claims":
				code, err := s.rdb.HGet(ctx, k, user).Result()
				if errors.Is(err, redis.Nil) {
					continue
				} else if err != nil {
					return fail("read coupon claims", err)
				}
				d.CouponClaims = append(d.CouponClaims, UserCouponClaim{Stream: st, Coupon: parts[1], Code: code})
			case len(parts) == 3 && parts[0] == "draw" && parts[2] == "entrants":
				v, err := s.rdb.HGet(ctx, k, user).Result()
				if errors.Is(err, redis.Nil) {
					continue
				} else if err != nil {
					return fail("read draw entrants", err)
				}
				var e DrawEntrant
				_ = json.Unmarshal([]byte(v), &e)
				ud := UserDraw{Stream: st, Draw: parts[1], Name: e.Name}
				if raw, err := s.rdb.HGet(ctx, s.itemKey(st, "draw", parts[1]), "json").Result(); err == nil {
					var dr Draw
					if json.Unmarshal([]byte(raw), &dr) == nil {
						ud.Prize = dr.Prize
						if dr.Result != nil {
							ud.Won = slices.ContainsFunc(dr.Result.Winners, func(w DrawEntrant) bool { return w.User == user })
						}
					}
				}
				d.Draws = append(d.Draws, ud)
				name(e.Name)
			case suffix == "sales:orders":
				vs, err := s.rdb.HVals(ctx, k).Result()
				if err != nil {
					return fail("read sales orders", err)
				}
				for _, v := range vs {
					var o SaleOrder
					if json.Unmarshal([]byte(v), &o) == nil && o.User == user {
						d.Purchases = append(d.Purchases, UserPurchase{Stream: st, SaleOrder: o})
					}
				}
			case suffix == "audience":
				ok, err := s.rdb.SIsMember(ctx, k, user).Result()
				if err != nil {
					return fail("read the audience", err)
				}
				if ok {
					d.Streams = append(d.Streams, st)
				}
			}
		}
	}
	for _, st := range replays {
		items, err := s.TimelineItems(ctx, st, 0, math.MaxInt64, math.MinInt64, -1, MaxTimelineItems)
		if err != nil {
			return UserData{}, err
		}
		d.addReplayComments(st, user, items)
	}
	wallet, err := s.UserCoupons(ctx, user, MaxUserCoupons)
	if err != nil {
		return UserData{}, err
	}
	d.Coupons = append(d.Coupons, wallet...)
	notify := s.notifyKey(user, "")
	for _, k := range own {
		day, ok := strings.CutPrefix(k, notify)
		if !ok {
			continue
		}
		v, err := s.rdb.HGet(ctx, k, "sent").Result()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return fail("read notifications", err)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		d.Notifications = append(d.Notifications, UserNotification{Day: day, Sent: n})
	}
	d.sort()
	return d, nil
}

// EraseUser implements PrivacyStore.
func (s *RedisStore) EraseUser(ctx context.Context, user, label string) (Erased, error) {
	var e Erased
	streams, err := s.userStreams(ctx, user)
	if err != nil {
		return e, err
	}
	keys, own, err := s.userKeys(ctx, user, streams)
	if err != nil {
		return e, err
	}
	// replace rewrites one value if it is still old (drop: removes it).
	replace := func(key, typ, old, new string, drop bool, extra string) (bool, error) {
		d := "0"
		if drop {
			d = "1"
		}
		n, err := privacyReplaceScript.Run(ctx, s.rdb, []string{key}, typ, old, new, d, extra).Int()
		if err != nil {
			return false, unavailable("erase "+user+" from "+key, err)
		}
		return n > 0, nil
	}
	for _, st := range streams {
		for _, k := range keys[st] {
			suffix := s.keySuffix(st, k)
			typ, err := s.rdb.Type(ctx, k).Result()
			if err != nil {
				return e, unavailable("read the type of "+k, err)
			}
			switch typ {
			case "string":
				v, err := s.rdb.Get(ctx, k).Result()
				if errors.Is(err, redis.Nil) {
					continue
				} else if err != nil {
					return e, unavailable("read "+k, err)
				}
				if out, drop, changed := scrubJSON([]byte(v), user, label); changed {
					if ok, err := replace(k, "string", v, string(out), drop, ""); err != nil {
						return e, err
					} else if ok {
						e.Records++
					}
				}
			case "hash":
				fields, err := s.rdb.HGetAll(ctx, k).Result()
				if err != nil {
					return e, unavailable("read "+k, err)
				}
				for f, v := range fields {
					out, drop, changed := scrubJSON([]byte(v), user, label)
					if !changed {
						continue
					}
					ok, err := replace(k, "hash", v, string(out), drop, f)
					if err != nil {
						return e, err
					}
					switch {
					case ok && drop && suffix == "questions":
						e.addQuestion(st, f)
					case ok:
						e.Records++
					}
				}
			case "list":
				vs, err := s.rdb.LRange(ctx, k, 0, -1).Result()
				if err != nil {
					return e, unavailable("read "+k, err)
				}
				for _, v := range vs {
					out, drop, changed := scrubJSON([]byte(v), user, label)
					if !changed {
						continue
					}
					ok, err := replace(k, "list", v, string(out), drop, "")
					if err != nil {
						return e, err
					}
					if ok && drop && suffix == "comments" {
						var c Comment
						_ = json.Unmarshal([]byte(v), &c)
						e.addComment(st, c.ID)
					} else if ok {
						e.Records++
					}
				}
			case "zset":
				if suffix != "timeline" {
					continue
				}
				zs, err := s.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
				if err != nil {
					return e, unavailable("read "+k, err)
				}
				for _, z := range zs {
					m, _ := z.Member.(string)
					it, err := decodeTimelineMember(m, strconv.FormatFloat(z.Score, 'f', -1, 64))
					if err != nil {
						continue
					}
					out, drop, changed := scrubJSON(it.Data, user, label)
					if !changed {
						continue
					}
					it.Data = out
					if ok, err := replace(k, "zset", m, encodeTimelineMember(it), drop, ""); err != nil {
						return e, err
					} else if ok {
						e.Records++
					}
				}
			}
		}
	}
	// The user's own keys but the erased mark and the index of streams: coupon wallet, last stream,
	// notification decisions. The index (stream ids only) stays until it expires, so that an erasure run
	// again, by the write path that finds a comment written while this one ran (takeBackIfErased), still
	// finds every stream.
	own = slices.DeleteFunc(own, func(k string) bool { return k == s.userStreamsKey(user) })
	if len(own) == 0 {
		return e, nil
	}
	n, err := s.rdb.Del(ctx, own...).Result()
	if err != nil {
		return e, unavailable("delete the keys of "+user, err)
	}
	e.Records += int(n)
	return e, nil
}

// encodeTimelineMember encodes a timeline item as its member (the layout in redis.go), as
// lua/timeline_append.lua does.
func encodeTimelineMember(it TimelineItem) string {
	return fmt.Sprintf("%016x%08x%s%08x%s%s", it.Seq, len(it.Key), it.Key, len(it.Type), it.Type, it.Data)
}

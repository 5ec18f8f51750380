package engagement

import (
	"context"
	"fmt"
	"time"
)

// dailyKey is user's hash of kind's decisions on day (key layout in redis.go).
func (s *RedisStore) dailyKey(user, kind, day string) string {
	return s.prefix + "user:{" + user + "}:daily:" + kind + ":" + day
}

// takeDailyScript takes a daily slot. KEYS: the hash of the day, of the day before. ARGV: id, limit, ttl ms.
var takeDailyScript = luaScript("daily_take.lua")

// TakeDaily implements DailyStore with one script.
func (s *RedisStore) TakeDaily(ctx context.Context, user, kind, id, day string, limit int) (bool, bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return false, false, err
	}
	keys := []string{s.dailyKey(user, kind, day), s.dailyKey(user, kind, d.AddDate(0, 0, -1).Format(time.DateOnly))}
	v, err := takeDailyScript.Run(ctx, s.rdb, keys, id, limit, notificationTTL.Milliseconds()).Result()
	if err != nil {
		return false, false, unavailable("take a daily "+kind+" slot for "+user, err)
	}
	r := replyStrings(v)
	if len(r) != 2 || (r[0] != "taken" && r[0] != "refused") {
		return false, false, fmt.Errorf("take a daily %s slot for %s: unexpected script reply %q", kind, user, r)
	}
	return r[0] == "taken", r[1] == "1", nil
}

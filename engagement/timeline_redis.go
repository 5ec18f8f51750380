package engagement

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// notificationTTL is how long a user's notification hash of a day lives after its last write.
const notificationTTL = 48 * time.Hour

// timelineTTL is how long a timeline lives after its last write: Retention, so that an ended stream can be
// replayed as long as its record lives.
func (s *RedisStore) timelineTTL() time.Duration { return s.retention }

// appendTimelineScript appends an item with the next Seq. KEYS: timeline, seq, keys, the item's text key,
// the hidden items (renewed with the timeline, so that a hidden item never comes back).
// ARGV: key, offset, type, data, max, ttl in ms, the full data when data has its personal text emptied
// (else ""), the text key's ttl in ms. Returns the item's Seq, or -1 when it was not appended.
var appendTimelineScript = luaScript("timeline_append.lua")

// timelineItemsScript reads a page. KEYS: timeline, hidden. ARGV: min score, max score (exclusive, "(to"),
// cursor offset, cursor seq, limit. Returns member, score pairs of up to limit items after the cursor whose
// Key is not hidden, in order.
var timelineItemsScript = luaScript("timeline_items.lua")

func (s *RedisStore) timelineKeys(stream string) (timeline, seq, keys, hidden string) {
	return s.streamSubKey(stream, "timeline"), s.streamSubKey(stream, "timeline:seq"),
		s.streamSubKey(stream, "timeline:keys"), s.streamSubKey(stream, "timeline:hidden")
}

// timelineTextKey holds the full data of the item with key (a comment's name and text), for TextRetention
// (text_retention.go).
func (s *RedisStore) timelineTextKey(stream, key string) string {
	return s.streamSubKey(stream, "timeline:text:"+key)
}

// AppendTimeline implements TimelineStore with one script: the Key's de-duplication (SADD, the "set if not
// there" of every node recording the same like sample), the bound, the Seq and the append are one step.
func (s *RedisStore) AppendTimeline(ctx context.Context, stream string, item TimelineItem, max int) (bool, error) {
	timeline, seq, keys, hidden := s.timelineKeys(stream)
	// An item with personal text is stored with it emptied; its full data goes in a key of its own that
	// expires after TextRetention (without a Key to name it, the text is not kept at all).
	data, full := item.Data, ""
	if public, personal := publicTimelineData(item.Type, item.Data); personal {
		data = public
		if item.Key != "" {
			full = string(item.Data)
		}
	}
	n, err := appendTimelineScript.Run(ctx, s.rdb, []string{timeline, seq, keys, s.timelineTextKey(stream, item.Key), hidden},
		item.Key, item.OffsetMS, item.Type, []byte(data), max, s.timelineTTL().Milliseconds(),
		full, min(s.textRetention, s.timelineTTL()).Milliseconds()).Int64()
	if err != nil {
		return false, unavailable("append to the timeline of "+stream, err)
	}
	return n >= 0, nil
}

// HideTimeline implements TimelineStore.
func (s *RedisStore) HideTimeline(ctx context.Context, stream, key string) error {
	_, _, _, hidden := s.timelineKeys(stream)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, hidden, key)
		p.PExpire(ctx, hidden, s.timelineTTL())
		p.Del(ctx, s.timelineTextKey(stream, key))
		return nil
	})
	if err != nil {
		return unavailable("hide "+key+" in the timeline of "+stream, err)
	}
	return nil
}

// TimelineItems implements TimelineStore with one read-only script.
func (s *RedisStore) TimelineItems(ctx context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error) {
	out := []TimelineItem{}
	if limit <= 0 || from >= to {
		return out, nil
	}
	timeline, _, _, hidden := s.timelineKeys(stream)
	v, err := timelineItemsScript.Run(ctx, s.rdb, []string{timeline, hidden},
		max(from, afterOffset), "("+strconv.FormatInt(to, 10), afterOffset, afterSeq, limit).StringSlice()
	if err != nil {
		return nil, unavailable("read the timeline of "+stream, err)
	}
	for i := 0; i+1 < len(v); i += 2 {
		it, err := decodeTimelineMember(v[i], v[i+1])
		if err != nil {
			return nil, fmt.Errorf("decode timeline item of %s: %w", stream, err)
		}
		out = append(out, it)
	}
	return out, s.timelineTexts(ctx, stream, out)
}

// timelineTexts puts back the full data of the items whose personal text is still kept.
func (s *RedisStore) timelineTexts(ctx context.Context, stream string, items []TimelineItem) error {
	var keys []string
	var at []int
	for i, it := range items {
		if it.Key != "" && len(personalTimelineFields[it.Type]) > 0 {
			keys = append(keys, s.timelineTextKey(stream, it.Key))
			at = append(at, i)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vs, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return unavailable("read the timeline texts of "+stream, err)
	}
	for j, v := range vs {
		if full, ok := v.(string); ok {
			items[at[j]].Data = []byte(full)
		}
	}
	return nil
}

// decodeTimelineMember decodes a timeline member and its score (see the layout above).
func decodeTimelineMember(m, score string) (TimelineItem, error) {
	hexField := func(s string) (int64, error) { return strconv.ParseInt(s, 16, 64) }
	if len(m) < 24 {
		return TimelineItem{}, fmt.Errorf("member of %d bytes", len(m))
	}
	seq, err := hexField(m[:16])
	if err != nil {
		return TimelineItem{}, fmt.Errorf("seq: %w", err)
	}
	klen, err := hexField(m[16:24])
	if err != nil || int64(len(m)) < 24+klen+8 {
		return TimelineItem{}, fmt.Errorf("key length of item %d", seq)
	}
	key, rest := m[24:24+klen], m[24+klen:]
	tlen, err := hexField(rest[:8])
	if err != nil || int64(len(rest)) < 8+tlen {
		return TimelineItem{}, fmt.Errorf("type length of item %d", seq)
	}
	offset, err := strconv.ParseFloat(score, 64)
	if err != nil || math.IsNaN(offset) {
		return TimelineItem{}, fmt.Errorf("offset %q of item %d", score, seq)
	}
	return TimelineItem{
		OffsetMS: int64(offset),
		Type:     rest[8 : 8+tlen],
		Data:     []byte(rest[8+tlen:]),
		Key:      key,
		Seq:      seq,
	}, nil
}

package engagement

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Text retention (KUDOS_TEXT_RETENTION, docs/privacy.md): the personal text of a replay — what a viewer
// wrote in a comment and the name they showed — is kept TextRetention after it was recorded; then it is
// purged from the store, and the item stays with its name and text emptied: the replay still shows that a
// comment was made, when, and by which id, and every count stays. The memory store purges each timeline's
// due texts when the timeline is read and, once a minute, in every timeline (a bounded sweep: only the
// items whose time came are touched); the Redis store keeps a comment's full data in a key of its own that
// expires after TextRetention, and its timeline member holds the data with name and text emptied.

// DefaultTextRetention is the default TextRetention of MemoryConfig and RedisConfig.
const DefaultTextRetention = 30 * 24 * time.Hour

// textRetention applies the default.
func textRetention(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTextRetention
	}
	return d
}

// ParseTextRetention reads a KUDOS_TEXT_RETENTION value: a Go duration ("720h", "90m") or a number of days
// ("30d"); it must be positive.
func ParseTextRetention(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days (1d..36500d) or a duration", v)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q is not a duration (720h) or a number of days (30d)", v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", v)
	}
	return d, nil
}

// personalTimelineFields are the fields of a timeline item's data that hold personal text, by item type.
var personalTimelineFields = map[string][]string{
	"comment": {"name", "text"},
}

// publicTimelineData returns an item's data with its personal text emptied, and whether there was any to
// empty (false: raw is returned as it is).
func publicTimelineData(typ string, raw json.RawMessage) (json.RawMessage, bool) {
	fields := personalTimelineFields[typ]
	if len(fields) == 0 {
		return raw, false
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return raw, false
	}
	changed := false
	for _, f := range fields {
		if v, ok := m[f]; ok && v != "" {
			m[f] = ""
			changed = true
		}
	}
	if !changed {
		return raw, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return raw, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// memText is a timeline item of the memory store whose personal text is due to be purged at until.
type memText struct {
	offset, seq int64
	until       time.Time
}

// noteText remembers, when item has personal text, that it is due at now+retention (items are appended
// in time order, so tl.texts stays sorted by until).
func (tl *memTimeline) noteText(item TimelineItem, now time.Time, retention time.Duration) {
	if _, personal := publicTimelineData(item.Type, item.Data); personal {
		tl.texts = append(tl.texts, memText{offset: item.OffsetMS, seq: item.Seq, until: now.Add(retention)})
	}
}

// purgeText empties the personal text of the items whose time came, in place, and forgets them.
func (tl *memTimeline) purgeText(now time.Time) {
	n := 0
	for n < len(tl.texts) && !now.Before(tl.texts[n].until) {
		t := tl.texts[n]
		n++
		i, found := slices.BinarySearchFunc(tl.items, t, func(e TimelineItem, t memText) int {
			return timelineLess(e.OffsetMS, e.Seq, t.offset, t.seq)
		})
		if found { // an erased comment is gone already
			tl.items[i].Data, _ = publicTimelineData(tl.items[i].Type, tl.items[i].Data)
		}
	}
	if n > 0 {
		tl.texts = slices.Delete(tl.texts, 0, n)
	}
}

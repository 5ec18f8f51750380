package eventsink

import (
	"encoding/json"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// eventTimeLayout is engagement's (event.go): RFC 3339 in UTC, always to the millisecond.
const eventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// appendEvent appends e's JSON, byte for byte what e.MarshalJSON (and json.Marshal(e)) writes, without
// reflection. It handles the usual event, whose strings and data are plain printable ASCII without spaces,
// quotes, backslashes or the characters encoding/json escapes for HTML, and reports false for any other
// (the caller then uses MarshalJSON): for those the fast path would have to repeat encoding/json's escaping.
// TestAppendEventIsMarshalJSON holds the two to the same bytes.
func appendEvent(dst []byte, e *engagement.Event) ([]byte, bool) {
	start := len(dst)
	if !plain(e.SpecVersion) || !plain(e.ID) || !plain(e.Source) || !plain(e.Type) || !plain(e.Subject) ||
		!plain(e.DataContentType) || !plain(e.DataSchema) || !plain(e.UserID) || !plain(e.Variant) {
		return dst, false
	}
	data := []byte(e.Data)
	if e.Data == nil {
		data = nullJSON // what json.RawMessage(nil) marshals to; an empty, non-nil one is an error (declined here)
	} else if !plainJSON(data) || !json.Valid(data) {
		return dst, false
	}
	str := func(name, v string) {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':', '"')
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	dst = append(dst, `{"specversion":"`...)
	dst = append(dst, e.SpecVersion...)
	dst = append(dst, '"')
	str("id", e.ID)
	str("source", e.Source)
	str("type", e.Type)
	if e.Subject != "" {
		str("subject", e.Subject)
	}
	str("datacontenttype", e.DataContentType)
	if e.DataSchema != "" {
		str("dataschema", e.DataSchema)
	}
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	if e.UserID != "" {
		str("userid", e.UserID)
	}
	if e.Variant != "" {
		str("variant", e.Variant)
	}
	dst = append(dst, `,"time":"`...)
	t := e.Time.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return dst[:start], false // Format writes those years its own way
	}
	dst = appendTime(dst, t)
	dst = append(dst, '"', '}')
	return dst, true
}

// appendTime writes t (UTC, year 0 to 9999) as t.Format(eventTimeLayout) does: 2006-01-02T15:04:05.000Z, the
// fraction truncated to milliseconds.
func appendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	digits := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, 0)
		}
		for i := len(dst) - 1; n > 0; i, n = i-1, n-1 {
			dst[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(year, 4)
	dst = append(dst, '-')
	digits(int(month), 2)
	dst = append(dst, '-')
	digits(day, 2)
	dst = append(dst, 'T')
	digits(hour, 2)
	dst = append(dst, ':')
	digits(minute, 2)
	dst = append(dst, ':')
	digits(sec, 2)
	dst = append(dst, '.')
	digits(ms, 3)
	return append(dst, 'Z')
}

var nullJSON = []byte("null")

// plain reports whether s is printable ASCII that encoding/json writes as it is inside a string: no control
// character, no '"' or '\\', and none of '<', '>', '&' (escaped for HTML).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainJSON reports whether compact JSON b is what encoding/json writes for it as it is: plain, and without
// spaces either (compacting would drop those outside strings). Its quotes are JSON's own.
func plainJSON(b []byte) bool {
	for _, c := range b {
		if !plainByte[c] && c != '"' || c == ' ' {
			return false
		}
	}
	return true
}

// plainByte marks the bytes plain allows: ' ' to '~' but '"', '\\', '<', '>' and '&'.
var plainByte = func() (t [256]bool) {
	for c := ' '; c <= '~'; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// eventJSONSize is a capacity for an event's JSON: its strings, data and the fixed parts.
func eventJSONSize(e *engagement.Event) int {
	return len(e.SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) + len(e.DataContentType) +
		len(e.DataSchema) + len(e.Data) + len(e.UserID) + len(e.Variant) + 192
}

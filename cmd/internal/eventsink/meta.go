package eventsink

import (
	"sync"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// recordMeta is what the forwarder needs of an event to make its Kafka record (key, ce_type, ce_id, time),
// taken from the event at Publish. The writer hands it on with the position where the event's spool line
// ends, so that the forwarder does not decode the lines this process wrote; lines from before a restart,
// or whose meta was not kept (metaQueueMax, or an event appendEvent declined), are decoded as before.
type recordMeta struct {
	end  position // end of the event's spool line; set by the writer
	size int      // the line's length, newline included
	ok   bool     // the event has an id, a type and a time; if not, the forwarder decodes the line (dead letter)
	// fields holds key, then type, then id, back to back (one allocation per event).
	fields      []byte
	keyN, typeN int
	time        time.Time
	hasKey      bool
}

var contentTypeBytes = []byte(contentType)

// newRecordMeta takes e's record fields; size is the length of its spool line. exact says appendEvent wrote
// the line: its strings are then printable ASCII and its time's year 0 to 9999, so that decoding the line
// gives back these very fields. Otherwise (a string that is not UTF-8 comes back with U+FFFD; a year the
// line cannot carry as RFC 3339 does not decode) the meta is not kept and the forwarder decodes the line, as
// it does after a restart: an event is keyed, partitioned and routed the same way before and after one.
func newRecordMeta(e *engagement.Event, size int, exact bool) recordMeta {
	t := e.Time.UTC().Truncate(time.Millisecond) // as the line says it (and Kafka keeps milliseconds)
	m := recordMeta{size: size, ok: exact && e.ID != "" && e.Type != "" && !t.IsZero()}
	if !m.ok {
		return m
	}
	key := e.Key() // none for an event of no user and no stream: spread, not all in one partition
	m.fields = make([]byte, 0, len(key)+len(e.Type)+len(e.ID))
	m.fields = append(append(append(m.fields, key...), e.Type...), e.ID...)
	m.keyN, m.typeN, m.hasKey = len(key), len(e.Type), key != ""
	m.time = t
	return m
}

func (m *recordMeta) key() []byte {
	if !m.hasKey {
		return nil
	}
	return m.fields[:m.keyN:m.keyN]
}

func (m *recordMeta) typ() []byte { return m.fields[m.keyN : m.keyN+m.typeN : m.keyN+m.typeN] }
func (m *recordMeta) id() []byte  { return m.fields[m.keyN+m.typeN:] }

// metaQueueMax bounds the metas kept ahead of the forwarder (while Kafka is slow or down the spool may hold
// far more events; those lines are decoded when their turn comes).
const metaQueueMax = 1 << 16

// metaQueue is the metas of the committed lines not yet read by the forwarder, in spool order. The writer
// pushes, the forwarder takes. Its zero value is empty and ready.
type metaQueue struct {
	mu   sync.Mutex
	q    []recordMeta
	head int
}

// push appends the metas of lines just committed (in order), or drops them all when the queue is full.
func (mq *metaQueue) push(ms []recordMeta) {
	mq.mu.Lock()
	defer mq.mu.Unlock()
	if len(mq.q)-mq.head+len(ms) > metaQueueMax {
		return
	}
	if mq.head > 0 && mq.head >= len(mq.q)/2 {
		n := copy(mq.q, mq.q[mq.head:])
		clear(mq.q[n:])
		mq.q, mq.head = mq.q[:n], 0
	}
	mq.q = append(mq.q, ms...)
}

// take returns the meta of the line that ends at end, dropping the metas of lines before it (none are
// expected: the forwarder reads every line in order). ok is false when there is none.
func (mq *metaQueue) take(end position) (m recordMeta, ok bool) {
	mq.mu.Lock()
	defer mq.mu.Unlock()
	for mq.head < len(mq.q) && mq.q[mq.head].end.before(end) {
		mq.q[mq.head] = recordMeta{}
		mq.head++
	}
	if mq.head < len(mq.q) && mq.q[mq.head].end == end {
		m = mq.q[mq.head]
		mq.q[mq.head] = recordMeta{}
		mq.head++
		return m, true
	}
	return recordMeta{}, false
}

package engagement

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// timelineMemory is MemoryStore's TimelineStore: replay timelines, under a lock of its own. A timeline goes
// Retention after its last write.
type timelineMemory struct {
	mu        sync.Mutex
	life      *memLife
	prune     memPrune
	timelines map[string]*memTimeline
}

var _ TimelineStore = (*timelineMemory)(nil)

func newTimelineMemory(life *memLife) *timelineMemory {
	return &timelineMemory{
		life:      life,
		prune:     newMemPrune(),
		timelines: map[string]*memTimeline{},
	}
}

// write records a write to stream's timeline; a due prune drops the timelines idle for Retention and
// purges the personal text whose time came in the others (text_retention.go).
func (m *timelineMemory) write(stream string) {
	now := m.life.now()
	gone := m.prune.write(stream, now, m.life.retention)
	if gone == nil {
		return
	}
	dropStreams(m.timelines, gone)
	for _, tl := range m.timelines {
		tl.purgeText(now)
	}
}

type memTimeline struct {
	items   []TimelineItem // sorted by (OffsetMS, Seq)
	keys    map[string]bool
	hidden  map[string]bool
	nextSeq int64
	texts   []memText // items with personal text, in the order it is due to be purged
}

func timelineLess(aOffset, aSeq, bOffset, bSeq int64) int {
	return cmp.Or(cmp.Compare(aOffset, bOffset), cmp.Compare(aSeq, bSeq))
}

// AppendTimeline implements TimelineStore.
func (m *timelineMemory) AppendTimeline(_ context.Context, stream string, item TimelineItem, max int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	tl := m.timelines[stream]
	if tl == nil {
		tl = &memTimeline{keys: map[string]bool{}, hidden: map[string]bool{}}
		m.timelines[stream] = tl
	}
	if (item.Key != "" && tl.keys[item.Key]) || len(tl.items) >= max {
		return false, nil
	}
	if item.Key != "" {
		tl.keys[item.Key] = true
	}
	item.Seq = tl.nextSeq
	tl.nextSeq++
	i, _ := slices.BinarySearchFunc(tl.items, item, func(e, t TimelineItem) int {
		return timelineLess(e.OffsetMS, e.Seq, t.OffsetMS, t.Seq)
	})
	tl.items = slices.Insert(tl.items, i, item)
	tl.noteText(item, m.life.now(), m.life.textRetention)
	return true, nil
}

// HideTimeline implements TimelineStore.
func (m *timelineMemory) HideTimeline(_ context.Context, stream, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	tl := m.timelines[stream]
	if tl == nil {
		tl = &memTimeline{keys: map[string]bool{}, hidden: map[string]bool{}}
		m.timelines[stream] = tl
	}
	tl.hidden[key] = true
	return nil
}

// TimelineItems implements TimelineStore.
func (m *timelineMemory) TimelineItems(_ context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tl := m.timelines[stream]
	if tl == nil {
		return []TimelineItem{}, nil
	}
	tl.purgeText(m.life.now())
	startOffset, startSeq := from, int64(-1)
	if timelineLess(afterOffset, afterSeq, startOffset, startSeq) > 0 {
		startOffset, startSeq = afterOffset, afterSeq
	}
	i, _ := slices.BinarySearchFunc(tl.items, TimelineItem{}, func(e, _ TimelineItem) int {
		return timelineLess(e.OffsetMS, e.Seq, startOffset, startSeq)
	})
	if i < len(tl.items) && tl.items[i].OffsetMS == startOffset && tl.items[i].Seq == startSeq {
		i++ // strictly after the cursor
	}
	out := []TimelineItem{}
	for ; i < len(tl.items) && len(out) < limit; i++ {
		it := tl.items[i]
		if it.OffsetMS >= to {
			break
		}
		if tl.hidden[it.Key] {
			continue
		}
		it.Data = slices.Clone(it.Data)
		out = append(out, it)
	}
	return out, nil
}

package eventsink

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"
)

// countLines returns the number of lines (events) in the spool from position from to the end of the last
// segment: the depth of a spool left by an earlier process. It reads the unacknowledged bytes once.
func countLines(dir string, from position) (int64, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	buf := make([]byte, 256<<10)
	for _, seg := range segs {
		if seg < from.seg {
			continue
		}
		f, err := os.Open(segmentPath(dir, seg))
		if err != nil {
			return 0, err
		}
		off := int64(0)
		if seg == from.seg {
			off = from.off
		}
		for {
			k, err := f.ReadAt(buf, off)
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			off += int64(k)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return 0, err
			}
		}
		f.Close()
	}
	return n, nil
}

// oldestUnsentAge is the age at now of the first event after the Kafka-acknowledged position, read from
// the spool (so it is right after a restart too), by the event's time; 0 when nothing is pending. A line that
// is not an event counts from its segment's last write.
func (s *Sink) oldestUnsentAge(now time.Time) time.Duration {
	// The forwarder may move the acknowledged position and delete segments while this reads: try again
	// from the new position.
	for range 3 {
		if s.pending.Load() <= 0 {
			return 0
		}
		t, err := firstLineTime(s.cfg.Dir, s.ackedPos())
		if err == nil {
			return max(now.Sub(t), 0)
		}
	}
	return 0
}

// firstLineTime returns the time of the first complete line at or after p (in p's segment or the next).
func firstLineTime(dir string, p position) (time.Time, error) {
	for seg, off := p.seg, p.off; seg <= p.seg+1; seg, off = seg+1, 0 {
		f, err := os.Open(segmentPath(dir, seg))
		if err != nil {
			return time.Time{}, err
		}
		line, err := readLine(f, off)
		var mod time.Time
		if st, serr := f.Stat(); serr == nil {
			mod = st.ModTime()
		}
		f.Close()
		if errors.Is(err, io.EOF) {
			continue // p is at the end of a finished segment
		}
		if err != nil {
			return time.Time{}, err
		}
		var e struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &e) != nil || e.Time.IsZero() {
			return mod, nil
		}
		return e.Time, nil
	}
	return time.Time{}, io.EOF
}

// readLine reads the line starting at off (without its newline); io.EOF when there is none, complete, there.
func readLine(f *os.File, off int64) ([]byte, error) {
	buf := make([]byte, 4<<10)
	for {
		n, err := f.ReadAt(buf, off)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return buf[:i], nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		if len(buf) >= 1<<20 {
			return nil, errors.New("spool line longer than 1 MiB")
		}
		buf = make([]byte, 2*len(buf))
	}
}

package eventsink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The spool on disk: append-only segment files named <number>.spool holding newline-delimited JSON events,
// and an "acked" file with the position up to which Kafka acknowledged them. Segments wholly before that
// position are deleted. Lines are only ever appended whole, then fsynced, so the committed end of the last
// segment is always a line end; a torn tail (a write cut by a crash before its fsync) is cut off on open.

const (
	segmentSuffix = ".spool"
	ackedFile     = "acked"
	lockFile      = "lock"
)

// lockDir takes an exclusive lock on dir, so that two processes never share a spool. The kernel drops
// it when the process dies.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool %s is in use by another process: %w", dir, err)
	}
	return f, nil
}

// position is a place in the spool: a byte offset in a segment.
type position struct {
	seg int64
	off int64
}

func (p position) before(q position) bool {
	return p.seg < q.seg || (p.seg == q.seg && p.off < q.off)
}

func segmentPath(dir string, seg int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", seg, segmentSuffix))
}

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// readAcked reads the acknowledged position; a missing file means nothing was acknowledged yet.
func readAcked(dir string) (position, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, ackedFile))
	if errors.Is(err, os.ErrNotExist) {
		return position{}, false, nil
	}
	if err != nil {
		return position{}, false, err
	}
	var p position
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &p.seg, &p.off); err != nil {
		return position{}, false, fmt.Errorf("parse %s: %w", ackedFile, err)
	}
	return p, true, nil
}

// writeAcked durably replaces the acknowledged position: write a temporary file, fsync, rename, fsync dir.
func writeAcked(dir string, p position) error {
	tmp := filepath.Join(dir, ackedFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %d\n", p.seg, p.off)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ackedFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// spoolFile is the segment being appended to. It is owned by the sink's writer goroutine.
type spoolFile struct {
	dir     string
	maxSize int64
	seg     int64
	f       *os.File
	size    int64
}

// openSpool prepares dir: it deletes segments before acked, cuts a torn tail off the last segment and
// opens it for appending. It returns the append end (committed) and the unacknowledged byte count.
func openSpool(dir string, segmentBytes int64) (sf *spoolFile, acked position, pending int64, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, position{}, 0, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, position{}, 0, err
	}
	acked, haveAcked, err := readAcked(dir)
	if err != nil {
		return nil, position{}, 0, err
	}
	if len(segs) == 0 {
		first := int64(1)
		if haveAcked {
			first = acked.seg + 1
		}
		segs = []int64{first}
		acked = position{seg: first}
	}
	if !haveAcked || acked.seg < segs[0] {
		acked = position{seg: segs[0]}
	}
	live := segs[:0]
	for _, s := range segs {
		if s < acked.seg {
			if err := os.Remove(segmentPath(dir, s)); err != nil {
				return nil, position{}, 0, err
			}
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 { // acked names a segment past all files: start it
		live = []int64{acked.seg}
		acked.off = 0
	}

	last := live[len(live)-1]
	f, err := os.OpenFile(segmentPath(dir, last), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, position{}, 0, err
	}
	size, err := cutTornTail(f)
	if err != nil {
		f.Close()
		return nil, position{}, 0, fmt.Errorf("repair %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, position{}, 0, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, position{}, 0, err
	}
	for _, s := range live[:len(live)-1] {
		st, err := os.Stat(segmentPath(dir, s))
		if err != nil {
			f.Close()
			return nil, position{}, 0, err
		}
		pending += st.Size()
	}
	pending += size
	if acked.seg == last && acked.off > size {
		acked.off = size
	}
	pending -= acked.off
	return &spoolFile{dir: dir, maxSize: segmentBytes, seg: last, f: f, size: size}, acked, pending, nil
}

// cutTornTail truncates f after its last newline and returns the resulting size.
func cutTornTail(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return size, nil
			}
			return keep, f.Truncate(keep)
		}
		end = start
	}
	return 0, f.Truncate(0)
}

// append writes b (whole lines) and fsyncs, rotating to a new segment first when this one is full.
// On a failed write it cuts the segment back so that no partial line stays.
func (sf *spoolFile) append(b []byte) (position, error) {
	if sf.size > 0 && sf.size+int64(len(b)) > sf.maxSize {
		if err := sf.rotate(); err != nil {
			return position{}, fmt.Errorf("rotate spool segment: %w", err)
		}
	}
	if _, err := sf.f.Write(b); err != nil {
		return position{}, errors.Join(err, sf.cutBack())
	}
	if err := sf.f.Sync(); err != nil {
		return position{}, errors.Join(err, sf.cutBack())
	}
	sf.size += int64(len(b))
	return position{seg: sf.seg, off: sf.size}, nil
}

func (sf *spoolFile) cutBack() error {
	if err := sf.f.Truncate(sf.size); err != nil {
		return err
	}
	_, err := sf.f.Seek(sf.size, io.SeekStart)
	return err
}

func (sf *spoolFile) rotate() error {
	next := sf.seg + 1
	f, err := os.OpenFile(segmentPath(sf.dir, next), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := syncDir(sf.dir); err != nil {
		f.Close()
		return err
	}
	if err := sf.f.Close(); err != nil {
		f.Close()
		return err
	}
	sf.f, sf.seg, sf.size = f, next, 0
	return nil
}

func (sf *spoolFile) close() error { return sf.f.Close() }

// spoolReader reads committed lines from the acknowledged position on. It is owned by the forwarder.
type spoolReader struct {
	dir string
	pos position // next byte to read
	f   *os.File // segment pos.seg, or nil
	buf []byte
}

// record is one spooled event line, without its newline, and the position just after it.
type record struct {
	line []byte
	end  position
}

// read returns up to limit records between r.pos and committed, and moves r.pos past them.
// maxBytes bounds the lines of one read, over all its segments and chunks (a longer single line is still
// returned, alone): the forwarder sends them in one call, whose records of a partition must fit one produce
// request (see readBytes).
func (r *spoolReader) read(committed position, limit int, maxBytes int) ([]record, error) {
	var out []record
	used := 0 // bytes of the lines in out
	for len(out) < limit && used < maxBytes && r.pos.before(committed) {
		if r.pos.seg < committed.seg {
			// A finished segment: read to its end, then move on.
			st, err := os.Stat(segmentPath(r.dir, r.pos.seg))
			if err != nil {
				return out, err
			}
			if r.pos.off >= st.Size() {
				r.closeFile()
				r.pos = position{seg: r.pos.seg + 1}
				continue
			}
			recs, err := r.readSegment(st.Size(), limit-len(out), maxBytes-used, len(out) == 0)
			out = append(out, recs...)
			for _, rec := range recs {
				used += len(rec.line) + 1
			}
			if err != nil || len(recs) == 0 {
				return out, err
			}
			continue
		}
		recs, err := r.readSegment(committed.off, limit-len(out), maxBytes-used, len(out) == 0)
		out = append(out, recs...)
		for _, rec := range recs {
			used += len(rec.line) + 1
		}
		if err != nil || len(recs) == 0 {
			return out, err
		}
	}
	return out, nil
}

// readSegment reads whole lines of segment r.pos.seg from r.pos.off up to end, at most maxBytes of them;
// when the next line is longer it returns that line alone if grow, else nothing.
func (r *spoolReader) readSegment(end int64, limit int, maxBytes int, grow bool) ([]record, error) {
	if r.f == nil {
		f, err := os.Open(segmentPath(r.dir, r.pos.seg))
		if err != nil {
			return nil, err
		}
		r.f = f
	}
	want := min(end-r.pos.off, int64(maxBytes))
	for {
		if int64(cap(r.buf)) < want {
			r.buf = make([]byte, want)
		}
		buf := r.buf[:want]
		n, err := r.f.ReadAt(buf, r.pos.off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == want) {
			return nil, fmt.Errorf("read %s: %w", r.f.Name(), err)
		}
		last := bytes.LastIndexByte(buf, '\n')
		if last < 0 {
			if want >= end-r.pos.off {
				return nil, fmt.Errorf("read %s at %d: no line end before %d", r.f.Name(), r.pos.off, end)
			}
			if !grow {
				return nil, nil // for the next read
			}
			want = min(want*2, end-r.pos.off) // one line longer than maxBytes
			continue
		}
		var out []record
		data := buf[:last+1]
		off := r.pos.off
		for len(data) > 0 && len(out) < limit {
			i := bytes.IndexByte(data, '\n')
			off += int64(i) + 1
			out = append(out, record{line: data[:i:i], end: position{seg: r.pos.seg, off: off}})
			data = data[i+1:]
		}
		// The lines outlive r.buf (they are in flight to Kafka while the next read fills it): one copy of
		// them all, which the records share.
		lines := bytes.Clone(buf[:off-r.pos.off])
		for i, p := 0, 0; i < len(out); i++ {
			n := len(out[i].line)
			out[i].line = lines[p : p+n : p+n]
			p += n + 1
		}
		r.pos.off = off
		return out, nil
	}
}

func (r *spoolReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// committedPos is the end of what the writer has fsynced, shared by the writer and the forwarder.
type committedPos struct {
	mu     sync.Mutex
	pos    position
	notify chan struct{} // signalled (cap 1) when pos moves
}

func (c *committedPos) set(p position) {
	c.mu.Lock()
	c.pos = p
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *committedPos) get() position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

package engagement

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// FileAwardQueue is the AwardQueue that survives a restart: one append-only file of JSON lines in a
// directory of its own, {"add": award} or {"done": key}, fsynced on every Add. Opening it replays the file
// (a torn last line, from a crash in the middle of a write, is dropped: its Add never returned) and rewrites
// it with the pending awards only; it is rewritten again whenever done lines outnumber pending ones, so the
// file stays about the size of what is owed.
type FileAwardQueue struct {
	mu      sync.Mutex // the file, the index, written
	dir     string
	f       *os.File
	index   *MemoryAwardQueue
	records int    // lines in the file
	size    int64  // bytes in the file
	dirty   bool   // a failed write or directory sync: rewrite the file before the next line
	written uint64 // Add lines written so far (their count is the sequence group commit waits on)

	syncMu sync.Mutex    // one fsync at a time
	synced atomic.Uint64 // Add lines known durable
	syncs  atomic.Uint64 // fsyncs done by Add (for tests and benchmarks)
}

var _ AwardQueue = (*FileAwardQueue)(nil)

// awardFile is the queue's file in its directory.
const awardFile = "awards.jsonl"

// maxAwardLine bounds one line of the file (an award is a few hundred bytes).
const maxAwardLine = 64 << 10

type awardRecord struct {
	Add  *QueuedAward `json:"add,omitempty"`
	Done string       `json:"done,omitempty"`
}

// OpenFileAwardQueue opens (creating it if needed) the queue kept in dir. It fails if the directory cannot
// be written or the file is corrupt before its last line: a queue of money owed is never silently emptied.
func OpenFileAwardQueue(dir string) (*FileAwardQueue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("award queue: %w", err)
	}
	q := &FileAwardQueue{dir: dir, index: NewMemoryAwardQueue()}
	if err := q.replay(); err != nil {
		return nil, err
	}
	if err := q.compact(); err != nil {
		return nil, err
	}
	return q, nil
}

// replay reads the file into the index.
func (q *FileAwardQueue) replay() error {
	path := filepath.Join(q.dir, awardFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("award queue: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxAwardLine)
	for n := 1; sc.Scan(); n++ {
		var r awardRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || (r.Add == nil && r.Done == "") {
			if !bytes.HasSuffix(b, []byte("\n")) && bytes.HasSuffix(b, sc.Bytes()) {
				break // the torn last line of a crashed write: that Add never returned
			}
			return fmt.Errorf("award queue %s: line %d is corrupt; refusing to start without what it owes (move the file aside to start empty)", path, n)
		}
		ctx := context.Background()
		if r.Add != nil {
			_ = q.index.Add(ctx, *r.Add)
		} else {
			_ = q.index.Done(ctx, r.Done)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("award queue %s: %w", path, err)
	}
	return nil
}

// compact rewrites the file with the pending awards only (write, fsync, rename, fsync the directory) and
// reopens it for appending.
func (q *FileAwardQueue) compact() error {
	pending, _ := q.index.Pending(context.Background())
	path := filepath.Join(q.dir, awardFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("award queue: %w", err)
	}
	w := bufio.NewWriter(f)
	for i := range pending {
		line, err := json.Marshal(awardRecord{Add: &pending[i]})
		if err != nil {
			f.Close()
			return fmt.Errorf("award queue: %w", err)
		}
		w.Write(append(line, '\n'))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("award queue: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("award queue: %w", err)
	}
	// From here on the new file is the queue: switch to it whatever else fails, never keep appending to the
	// old one, which is no longer in the directory.
	nf, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if q.f != nil {
		q.f.Close()
	}
	q.f = nf
	if err != nil {
		q.f = nil
		return fmt.Errorf("award queue: reopen after compaction: %w", err)
	}
	st, err := nf.Stat()
	if err != nil {
		return fmt.Errorf("award queue: %w", err)
	}
	q.size, q.dirty = st.Size(), false
	q.records = len(pending)
	q.synced.Store(q.written) // every line written so far is in the rewritten, synced file (or was done)
	if err := syncDir(q.dir); err != nil {
		q.dirty = true // the rename may not be durable: compact again before the next line
		return fmt.Errorf("award queue: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// write appends one record (not synced). A failed write is cut off again (a torn line followed by good ones
// would make the file unreadable); if even that fails, the file is rewritten before the next line.
func (q *FileAwardQueue) write(r awardRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if q.dirty {
		if err := q.compact(); err != nil {
			return err
		}
	}
	if _, err := q.f.Write(append(line, '\n')); err != nil {
		if terr := q.f.Truncate(q.size); terr != nil {
			q.dirty = true
		}
		return err
	}
	q.size += int64(len(line)) + 1
	q.records++
	return nil
}

// Add implements AwardQueue: the award is on disk when it returns nil. Concurrent Adds share fsyncs (group
// commit): whoever syncs makes every line written before it durable, so the others need not.
func (q *FileAwardQueue) Add(ctx context.Context, a QueuedAward) error {
	q.mu.Lock()
	if q.f == nil {
		q.mu.Unlock()
		return fmt.Errorf("award queue: %w", os.ErrClosed)
	}
	prev, had := q.index.get(a.Key)
	if err := q.index.Add(ctx, a); err != nil {
		q.mu.Unlock()
		return err
	}
	if err := q.write(awardRecord{Add: &a}); err != nil {
		if had { // the earlier line for this key is still durable: keep owing that one
			_ = q.index.Add(ctx, prev)
		} else {
			_ = q.index.Done(ctx, a.Key) // not durable: the caller pays it without the net, and says so
		}
		q.mu.Unlock()
		return fmt.Errorf("award queue: add %s: %w", a.Key, err)
	}
	q.written++
	mine := q.written
	q.mu.Unlock()

	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	if q.synced.Load() >= mine {
		return nil // an fsync that started after our write covered it
	}
	q.mu.Lock()
	f, upTo := q.f, q.written
	q.mu.Unlock()
	if f == nil {
		return fmt.Errorf("award queue: add %s: %w", a.Key, os.ErrClosed)
	}
	err := f.Sync()
	q.syncs.Add(1)
	if err != nil && q.synced.Load() < mine { // a compaction in between rewrote and synced it: durable
		return fmt.Errorf("award queue: add %s: %w", a.Key, err)
	}
	if q.synced.Load() < upTo {
		q.synced.Store(upTo)
	}
	return nil
}

// Done implements AwardQueue. The line is not fsynced: lost in a crash, the award is paid again, once.
func (q *FileAwardQueue) Done(ctx context.Context, key string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return fmt.Errorf("award queue: %w", os.ErrClosed)
	}
	if !q.index.has(key) {
		return nil
	}
	_ = q.index.Done(ctx, key)
	if err := q.write(awardRecord{Done: key}); err != nil {
		return fmt.Errorf("award queue: done %s: %w", key, err)
	}
	if q.records > 2*q.index.len()+1024 {
		return q.compact()
	}
	return nil
}

func (q *FileAwardQueue) len() int { return q.index.len() }

// Pending implements AwardQueue.
func (q *FileAwardQueue) Pending(ctx context.Context) ([]QueuedAward, error) {
	return q.index.Pending(ctx)
}

// Close implements AwardQueue: what is pending stays in the file for the next Open.
func (q *FileAwardQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("award queue: %w", err)
	}
	return nil
}

package eventsink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// publishPerUser publishes perUser events for each of users users, one goroutine per user, each user's
// events in sequence (1 to 4 per call). It returns the total.
func publishPerUser(t *testing.T, s *Sink, users, perUser int) int {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for u := range users {
		wg.Go(func() {
			user := fmt.Sprintf("user-%02d", u)
			for seq := 0; seq < perUser; {
				n := min(1+seq%4, perUser-seq)
				events := make([]engagement.Event, n)
				for i := range events {
					events[i] = testEvent(t, user, seq+i)
				}
				if err := s.Publish(ctx, events...); err != nil {
					errs <- err
					return
				}
				seq += n
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
	return users * perUser
}

// checkPerKeyOrder checks that every user's events share one partition, are keyed by the user, and (first
// deliveries) come in publish order 0, 1, 2, ...
func checkPerKeyOrder(t *testing.T, msgs []consumed, users, perUser int) {
	t.Helper()
	partition := map[string]int{}
	next := map[string]int{}
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.key != m.event.UserID {
			t.Fatalf("event %s of %s has key %q", m.event.ID, m.event.UserID, m.key)
		}
		if p, ok := partition[m.key]; ok && p != m.partition {
			t.Fatalf("user %s in partitions %d and %d", m.key, p, m.partition)
		}
		partition[m.key] = m.partition
		if seen[m.event.ID] {
			continue // a redelivery; consumers dedupe by id
		}
		seen[m.event.ID] = true
		if got, want := m.seq, next[m.key]; got != want {
			t.Fatalf("user %s: got seq %d, want %d", m.key, got, want)
		}
		next[m.key]++
	}
	if got := len(next); got != users {
		t.Fatalf("got events of %d users, want %d", got, users)
	}
	for user, n := range next {
		if n != perUser {
			t.Errorf("user %s: got %d events, want %d", user, n, perUser)
		}
	}
}

func segmentCount(t *testing.T, dir string) int {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(segs)
}

func TestSinkDeliversInOrderPerKey(t *testing.T) {
	tests := []struct {
		name    string
		brokers func(testing.TB) []string
	}{
		{"kafka", kafkaBrokers},
		{"dev broker", func(t testing.TB) []string {
			addr, _ := startDevBroker(t, "")
			return []string{addr}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := tt.brokers(t)
			topic := testTopic(t)
			dir := t.TempDir()
			s, err := New(context.Background(), Config{
				Dir: dir, Brokers: brokers, Topic: topic, SegmentBytes: 32 << 10, Logger: quietLogger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			const users, perUser = 12, 120
			total := publishPerUser(t, s, users, perUser)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.Spooled != uint64(total) || st.Sent < uint64(total) || st.SpoolBytes != 0 {
				t.Errorf("stats %+v, want %d spooled and sent, 0 bytes left", st, total)
			}
			if got := segmentCount(t, dir); got != 1 {
				t.Errorf("got %d segments after everything was sent, want 1 (shipped ones deleted)", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			msgs := consumeAll(t, brokers, topic, total, 60*time.Second)
			if got := len(distinctIDs(msgs)); got != total {
				t.Fatalf("got %d distinct events, want %d", got, total)
			}
			checkPerKeyOrder(t, msgs, users, perUser)
		})
	}
}

func TestDevBrokerDownThenBack(t *testing.T) {
	addr, stop := startDevBroker(t, "")
	topic := DefaultTopic
	s, err := New(context.Background(), Config{Dir: t.TempDir(), Brokers: []string{addr}, Topic: topic, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Publish(ctx, testEvent(t, "before", 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	stop() // the in-memory broker forgets everything
	const users, perUser = 4, 50
	total := publishPerUser(t, s, users, perUser)
	time.Sleep(500 * time.Millisecond)
	if st := s.Stats(); st.Sent != 1 || st.SpoolBytes == 0 {
		t.Fatalf("with the broker down: stats %+v, want 1 sent and a non-empty spool", st)
	}

	startDevBroker(t, addr)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.SendErrors == 0 {
		t.Errorf("stats %+v: want send errors counted while the broker was down", st)
	}
	msgs := consumeAll(t, []string{addr}, topic, total, 30*time.Second)
	if got := len(distinctIDs(msgs)); got != total {
		t.Fatalf("got %d distinct events after the broker came back, want %d", got, total)
	}
	checkPerKeyOrder(t, msgs, users, perUser)
}

// The crash child publishes events with ids crash-00000, crash-00001, ... in batches, printing
// "ok <count>" after each Publish returns, then "done", and waits to be killed.
const crashChildEnv = "KUDOS_EVENTSINK_CRASH_CHILD"

func crashChild() int {
	dir := os.Getenv("CRASH_DIR")
	var brokers []string
	if b := os.Getenv("CRASH_BROKERS"); b != "" {
		brokers = strings.Split(b, ",")
	}
	n, _ := strconv.Atoi(os.Getenv("CRASH_N"))
	s, err := New(context.Background(), Config{Dir: dir, Brokers: brokers, Topic: os.Getenv("CRASH_TOPIC"), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	const batch = 10
	for i := 0; i < n; i += batch {
		events := make([]engagement.Event, batch)
		for j := range events {
			e, err := engagement.NewEvent("kudos/crash", engagement.EventLikeSent, "stream-1",
				fmt.Sprintf("user-%d", (i+j)%7), "", time.Now(), map[string]int{"seq": i + j})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			e.ID = fmt.Sprintf("crash-%05d", i+j)
			events[j] = e
		}
		if err := s.Publish(context.Background(), events...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("ok %d\n", i+batch)
	}
	fmt.Println("done")
	time.Sleep(time.Hour) // until SIGKILL
	return 0
}

// TestCrashResendsUnacknowledged kills a publishing process with SIGKILL and checks that a new Sink on the
// same spool sends every event whose Publish had returned.
func TestCrashResendsUnacknowledged(t *testing.T) {
	devBrokers := func(t testing.TB) []string {
		addr, _ := startDevBroker(t, "")
		return []string{addr}
	}
	tests := []struct {
		name       string
		brokers    func(testing.TB) []string
		childSends bool // the child forwards too, so some events are acknowledged before the kill
		killAfter  int  // confirmed events before the kill
	}{
		{"spool only, dev broker", devBrokers, false, 2000},
		{"while forwarding, dev broker", devBrokers, true, 3000},
		{"while forwarding, kafka", kafkaBrokers, true, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := tt.brokers(t)
			topic := testTopic(t)
			dir := t.TempDir()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_DIR="+dir, "CRASH_TOPIC="+topic,
				"CRASH_N=100000")
			if tt.childSends {
				cmd.Env = append(cmd.Env, "CRASH_BROKERS="+strings.Join(brokers, ","))
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			confirmed := 0
			sc := bufio.NewScanner(out)
			for confirmed < tt.killAfter && sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
					confirmed, _ = strconv.Atoi(n)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if confirmed < tt.killAfter {
				t.Fatalf("child confirmed %d events before dying, want %d; stderr: %s", confirmed, tt.killAfter, stderr.String())
			}

			acked, _, err := readAcked(dir)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(context.Background(), Config{Dir: dir, Brokers: brokers, Topic: topic, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			t.Logf("reopened: acked position %+v, %d bytes to re-send", acked, s.Stats().SpoolBytes)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			ids := distinctIDs(consumeAll(t, brokers, topic, confirmed, 60*time.Second))
			for i := range confirmed {
				if id := fmt.Sprintf("crash-%05d", i); ids[id] == 0 {
					t.Fatalf("event %s was confirmed before the crash but never reached Kafka (%d distinct arrived)", id, len(ids))
				}
			}
			t.Logf("%d confirmed before SIGKILL, %d distinct delivered", confirmed, len(ids))
		})
	}
}

// spooledIDs reads every event id in dir's segments, in order.
func spooledIDs(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, seg := range segs {
		b, err := os.ReadFile(segmentPath(dir, seg))
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			var e engagement.Event
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatalf("spool line %q: %v", line, err)
			}
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func TestGroupCommit(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	dir := t.TempDir()
	cfg := Config{Dir: dir, Logger: quietLogger(), beforeAppend: func() {
		once.Do(func() { close(entered); <-release })
	}}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// The first Publish holds the writer; the next ones queue and must share one write and fsync.
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Publish(ctx, testEvent(t, "first", 0)); err != nil {
			t.Error(err)
		}
	})
	<-entered
	const queued = 50
	for i := range queued {
		wg.Go(func() {
			if err := s.Publish(ctx, testEvent(t, fmt.Sprintf("user-%d", i), i)); err != nil {
				t.Error(err)
			}
		})
	}
	for len(s.reqs) < queued {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got, want := s.commits.Load(), uint64(2); got != want {
		t.Errorf("got %d group commits for 1+%d queued publishes, want %d", got, queued, want)
	}

	// Many writers at once: every event spooled exactly once.
	const writers, each = 8, 150
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Publish(ctx, testEvent(t, fmt.Sprintf("w%d", w), i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 1 + queued + writers*each
	if st := s.Stats(); st.Spooled != uint64(total) {
		t.Errorf("stats %+v, want %d spooled", st, total)
	}
	ids := spooledIDs(t, dir)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("event %s spooled twice", id)
		}
		seen[id] = true
	}
	if len(ids) != total {
		t.Errorf("got %d events on disk, want %d", len(ids), total)
	}
	t.Logf("%d events in %d group commits", total, s.commits.Load())
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for m, c := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

func TestSpoolFull(t *testing.T) {
	const maxBytes = 16 << 10
	logs := &countingHandler{msgs: map[string]int{}}
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, MaxBytes: maxBytes, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Admit(); err != nil {
		t.Fatalf("Admit on an empty spool: %v", err)
	}
	accepted := 0
	for {
		err := s.Publish(context.Background(), testEvent(t, "u", accepted))
		if errors.Is(err, ErrSpoolFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
		if accepted > maxBytes {
			t.Fatal("spool never filled")
		}
	}
	st := s.Stats()
	if st.SpoolBytes > maxBytes || st.SpoolBytes < maxBytes/2 || st.Spooled != uint64(accepted) {
		t.Errorf("stats %+v after %d accepted, want spool bytes in (%d/2, %d]", st, accepted, maxBytes, maxBytes)
	}
	// A full spool refuses new actions before they change anything (engagement answers them unavailable).
	if err := s.Admit(); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("Admit on a full spool: %v, want ErrSpoolFull", err)
	}
	if got := logs.count("EVENT SPOOL ABOVE 80% FULL"); got != 1 {
		t.Errorf("got %d 80%%-full warnings, want 1", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), testEvent(t, "u", 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after close: got %v, want ErrClosed", err)
	}

	// Reopened, the spool still holds the same bytes and is still full.
	s, err = New(context.Background(), Config{Dir: dir, MaxBytes: maxBytes, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Stats().SpoolBytes; got != st.SpoolBytes {
		t.Errorf("reopened spool has %d bytes, want %d", got, st.SpoolBytes)
	}
	if err := s.Publish(context.Background(), testEvent(t, "u", 0)); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("publish to reopened full spool: got %v, want ErrSpoolFull", err)
	}
	if got := len(spooledIDs(t, dir)); got != accepted {
		t.Errorf("got %d events on disk, want %d", got, accepted)
	}
}

func TestOpenSpoolCutsTornTail(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", ""},
		{"whole lines", "a\nb\n", "a\nb\n"},
		{"torn last line", "a\nb\nc", "a\nb\n"},
		{"only a torn line", "abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(segmentPath(dir, 1), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			sf, acked, pending, err := openSpool(dir, DefaultSegmentBytes)
			if err != nil {
				t.Fatal(err)
			}
			defer sf.close()
			got, err := os.ReadFile(segmentPath(dir, 1))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || sf.size != int64(len(tt.want)) || pending != int64(len(tt.want)) {
				t.Errorf("got %q (size %d, pending %d), want %q", got, sf.size, pending, tt.want)
			}
			if acked != (position{seg: 1}) {
				t.Errorf("got acked %+v, want start of segment 1", acked)
			}
		})
	}
}

func TestOpenSpoolResumesFromAcked(t *testing.T) {
	dir := t.TempDir()
	for seg, content := range map[int64]string{3: "a\nb\n", 4: "c\nd\n", 5: "e\n"} {
		if err := os.WriteFile(segmentPath(dir, seg), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeAcked(dir, position{seg: 4, off: 2}); err != nil {
		t.Fatal(err)
	}
	sf, acked, pending, err := openSpool(dir, DefaultSegmentBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.close()
	if want := (position{seg: 4, off: 2}); acked != want {
		t.Errorf("got acked %+v, want %+v", acked, want)
	}
	if pending != 4 { // "d\n" and "e\n"
		t.Errorf("got %d pending bytes, want 4", pending)
	}
	if _, err := os.Stat(segmentPath(dir, 3)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("segment 3, before the acked position, still exists: %v", err)
	}
	r := &spoolReader{dir: dir, pos: acked}
	defer r.closeFile()
	recs, err := r.read(position{seg: sf.seg, off: sf.size}, 100, readBytes)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		got = append(got, string(rec.line))
	}
	if strings.Join(got, ",") != "d,e" {
		t.Errorf("read %q after the acked position, want [d e]", got)
	}
}

func TestCloseLeavesUnsentInSpool(t *testing.T) {
	dir := t.TempDir()
	dead := testenv.FreeAddr(t) // nothing listens there
	s, err := New(context.Background(), Config{
		Dir: dir, Brokers: []string{dead}, FlushTimeout: 300 * time.Millisecond, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		if err := s.Publish(context.Background(), testEvent(t, "u", i)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v with Kafka down, want about the flush timeout", took)
	}
	if got := len(spooledIDs(t, dir)); got != n {
		t.Errorf("got %d events left in the spool, want %d", got, n)
	}
	if _, err := os.Stat(filepath.Join(dir, ackedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("acked file written although Kafka acknowledged nothing: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	for round := range 2 { // Close unregisters, so a second sink can register again
		s, err := New(context.Background(), Config{Dir: t.TempDir(), Registerer: reg, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := s.Publish(context.Background(), testEvent(t, "a", 0), testEvent(t, "b", 0), testEvent(t, "c", 0)); err != nil {
			t.Fatal(err)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				if c := m.GetCounter(); c != nil {
					got[f.GetName()] = c.GetValue()
				}
				if g := m.GetGauge(); g != nil {
					got[f.GetName()] = g.GetValue()
				}
			}
		}
		want := map[string]float64{
			"kudos_eventsink_events_spooled_total": 3,
			"kudos_eventsink_events_sent_total":    0,
			"kudos_eventsink_send_errors_total":    0,
			"kudos_eventsink_spool_max_bytes":      float64(DefaultMaxBytes),
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s = %v, want %v", name, got[name], w)
			}
		}
		if got["kudos_eventsink_spool_bytes"] <= 0 {
			t.Errorf("kudos_eventsink_spool_bytes = %v, want > 0", got["kudos_eventsink_spool_bytes"])
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOneSinkPerDir(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := New(context.Background(), Config{Dir: dir, Logger: quietLogger()}); err == nil {
		second.Close()
		t.Fatal("a second sink opened the same spool dir")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	s, err = New(context.Background(), Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	s.Close()
}

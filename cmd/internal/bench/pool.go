package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Socket sizes: viewers read small frames, and 15,000 of them share one machine with the server.
const (
	readBufferSize  = 1024
	writeBufferSize = 512
	handshakeWait   = 20 * time.Second
	maxOptions      = 16
)

// frameTypes are the envelope types counted by name; anything else counts as "other".
var frameTypes = []string{"welcome", "comment", "ack", "error", "presence", "likes", "points", "poll.opened", "poll.tally", "poll.closed", "notice", "chat.skipped", "other"}

const (
	typeComment = 1
	typeAck     = 2
	typeError   = 3
	typeSkipped = 11 // chat.skipped {"count"}: comments the server did not send this viewer (overload)
	typeOther   = 12
)

// pool is a set of sockets on one stream, each with one reader goroutine that counts what arrives.
type pool struct {
	cfg    Config
	offset int // global index of the first socket: picks its user, source address and vote option
	prefix string

	dialers []*websocket.Dialer
	bufs    sync.Pool

	mu         sync.Mutex
	conns      []*member
	dialErrors int
	drops      map[int]int
	readErrors int
	voteErrors map[string]int64
	sendErrors map[string]int64 // errors answering comment.send, by code

	wg       sync.WaitGroup
	stopping atomic.Bool
	open     atomic.Int64

	types      [13]atomic.Int64
	comments   atomic.Int64
	skipped    atomic.Int64 // the counts of the chat.skipped frames received
	latency    Histogram
	votesSent  atomic.Int64
	votesAcked atomic.Int64
	ackedByOpt [maxOptions]atomic.Int64
	firstVote  atomic.Int64
	lastAck    atomic.Int64
	sendAcks   atomic.Int64 // acks of comment.send
}

// member is one socket.
type member struct {
	index    int // global index
	conn     *websocket.Conn
	comments atomic.Int64
}

func newPool(cfg Config, offset int, prefix string) *pool {
	p := &pool{
		cfg: cfg, offset: offset, prefix: prefix,
		drops: map[int]int{}, voteErrors: map[string]int64{}, sendErrors: map[string]int64{},
	}
	p.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	wpool := &sync.Pool{}
	for i := range max(cfg.SourceAddrs, 1) {
		nd := &net.Dialer{Timeout: handshakeWait}
		if cfg.SourceAddrs > 0 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
		}
		p.dialers = append(p.dialers, &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: handshakeWait,
			ReadBufferSize:   readBufferSize,
			WriteBufferSize:  writeBufferSize,
			WriteBufferPool:  wpool,
		})
	}
	return p
}

// connect opens n sockets to streamID on urls (socket i goes to urls[i % len(urls)]) with bounded
// concurrency, then waits until each open socket has had its welcome (it is then in the hub).
func (p *pool) connect(ctx context.Context, urls []string, streamID string, n int, token func(user string) (string, error)) error {
	jobs := make(chan int)
	var workers sync.WaitGroup
	for range max(p.cfg.DialConcurrency, 1) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				p.dialOne(ctx, urls, streamID, i, token)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- p.offset + i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	workers.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(handshakeWait)
	for time.Now().Before(deadline) {
		if p.types[0].Load() >= p.open.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("only %d of %d sockets had their welcome within %s", p.types[0].Load(), p.open.Load(), handshakeWait)
}

func (p *pool) dialOne(ctx context.Context, urls []string, streamID string, i int, token func(string) (string, error)) {
	fail := func() {
		p.mu.Lock()
		p.dialErrors++
		p.mu.Unlock()
	}
	tok, err := token(fmt.Sprintf("%s-%d", p.prefix, i))
	if err != nil {
		fail()
		return
	}
	u := wsURL(urls[i%len(urls)], streamID) + "?token=" + tok
	conn, res, err := p.dialers[i%len(p.dialers)].DialContext(ctx, u, nil)
	if res != nil && res.Body != nil {
		_ = res.Body.Close()
	}
	if err != nil {
		if p.cfg.Verbose && ctx.Err() == nil {
			status := 0
			if res != nil {
				status = res.StatusCode
			}
			fmt.Fprintf(p.cfg.stderr(), "dial %d: %v (HTTP %d)\n", i, err, status)
		}
		fail()
		return
	}
	m := &member{index: i, conn: conn}
	p.mu.Lock()
	p.conns = append(p.conns, m)
	p.mu.Unlock()
	p.open.Add(1)
	p.wg.Add(1)
	go p.read(m)
}

// read counts what arrives on m until the socket ends.
func (p *pool) read(m *member) {
	defer p.wg.Done()
	defer p.open.Add(-1)
	for {
		_, r, err := m.conn.NextReader()
		if err != nil {
			p.ended(err)
			return
		}
		bp := p.bufs.Get().(*[]byte)
		buf, err := readInto((*bp)[:0], r)
		if err == nil {
			now := time.Now()
			for len(buf) > 0 {
				line := buf
				if i := bytes.IndexByte(buf, '\n'); i >= 0 {
					line, buf = buf[:i], buf[i+1:]
				} else {
					buf = nil
				}
				p.handle(m, line, now)
			}
		}
		*bp = buf[:0]
		p.bufs.Put(bp)
		if err != nil {
			p.ended(err)
			return
		}
	}
}

// readInto appends all of r to buf, growing it as needed.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ended records why a socket ended, unless the bench is closing it.
func (p *pool) ended(err error) {
	if p.stopping.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		p.drops[ce.Code]++
		return
	}
	p.readErrors++
}

var (
	typePrefix  = []byte(`{"type":"`)
	idPrefix    = []byte(`"id":"`)
	codePrefix  = []byte(`"code":"`)
	sentMarker  = []byte(`"text":"t=`)
	countPrefix = []byte(`"count":`)
)

// handle counts one envelope. Server envelopes start with {"type":"…","id":"…" (the codec's field order);
// a line that does not is counted as "other".
func (p *pool) handle(m *member, line []byte, now time.Time) {
	typ := stringField(line, typePrefix)
	k := typeOther
	for i, t := range frameTypes {
		if string(typ) == t {
			k = i
			break
		}
	}
	p.types[k].Add(1)
	switch k {
	case typeComment:
		m.comments.Add(1)
		p.comments.Add(1)
		if i := bytes.Index(line, sentMarker); i >= 0 {
			if sent, ok := leadingInt(line[i+len(sentMarker):]); ok {
				p.latency.Record(now.Sub(time.Unix(0, sent)))
			}
		}
	case typeSkipped:
		if i := bytes.Index(line, countPrefix); i >= 0 {
			if n, ok := leadingInt(line[i+len(countPrefix):]); ok {
				p.skipped.Add(n)
			}
		}
	case typeAck, typeError:
		id := stringField(line, idPrefix)
		if len(id) < 2 {
			return
		}
		switch id[0] {
		case 'v':
			opt, ok := leadingInt(id[1:])
			if !ok || opt < 0 || opt >= maxOptions {
				return
			}
			if k == typeAck {
				p.votesAcked.Add(1)
				p.ackedByOpt[opt].Add(1)
			} else {
				p.mu.Lock()
				p.voteErrors[string(stringField(line, codePrefix))]++
				p.mu.Unlock()
			}
			storeMax(&p.lastAck, now.UnixNano())
		case 'c':
			if k == typeAck {
				p.sendAcks.Add(1)
			} else {
				p.mu.Lock()
				p.sendErrors[string(stringField(line, codePrefix))]++
				p.mu.Unlock()
			}
		}
	}
}

// stringField returns the JSON string value that follows the first occurrence of prefix in line.
func stringField(line, prefix []byte) []byte {
	i := bytes.Index(line, prefix)
	if i < 0 {
		return nil
	}
	rest := line[i+len(prefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// leadingInt parses the decimal digits at the start of b.
func leadingInt(b []byte) (int64, bool) {
	end := 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b[:end]), 10, 64)
	return v, err == nil
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if (cur != 0 && cur <= v) || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// members returns the open sockets.
func (p *pool) members() []*member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*member(nil), p.conns...)
}

// vote makes every socket vote once in pollID (option = global index mod options), spread evenly over
// window, then waits until every vote is answered or timeout passes.
func (p *pool) vote(ctx context.Context, pollID string, options int, window, timeout time.Duration) {
	ms := p.members()
	const senders = 32
	start := time.Now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := s; k < len(ms); k += senders {
				if window > 0 {
					due := start.Add(window * time.Duration(k) / time.Duration(len(ms)))
					if d := time.Until(due); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				opt := ms[k].index % options
				frame := fmt.Sprintf(`{"type":"poll.vote","id":"v%d","data":{"poll_id":%q,"option":%d}}`, opt, pollID, opt)
				storeMin(&p.firstVote, time.Now().UnixNano())
				_ = ms[k].conn.SetWriteDeadline(time.Now().Add(handshakeWait))
				if err := ms[k].conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
					continue
				}
				p.votesSent.Add(1)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if p.answeredVotes() >= p.votesSent.Load() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *pool) answeredVotes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.votesAcked.Load()
	for _, v := range p.voteErrors {
		n += v
	}
	return n
}

// finish waits until every socket has received expected comments (or drain passes), closes the sockets and
// returns what they saw.
func (p *pool) finish(ctx context.Context, expected int64, drain time.Duration) Stats {
	ms := p.members()
	deadline := time.Now().Add(drain)
	for expected > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		if p.comments.Load() >= expected*int64(len(ms)) && p.lowest(ms) >= expected {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := p.snapshot()
	for _, m := range ms {
		if got := m.comments.Load(); got >= expected {
			st.Complete++
		} else {
			st.Missing += expected - got
		}
	}
	p.close()
	return st
}

func (p *pool) lowest(ms []*member) int64 {
	low := int64(-1)
	for _, m := range ms {
		if c := m.comments.Load(); low < 0 || c < low {
			low = c
		}
	}
	return low
}

// close ends every socket and waits (briefly) for the readers.
func (p *pool) close() {
	p.stopping.Store(true)
	for _, m := range p.members() {
		_ = m.conn.Close()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// snapshot returns the counts so far.
func (p *pool) snapshot() Stats {
	st := newStats()
	p.mu.Lock()
	st.Viewers = len(p.conns) + p.dialErrors
	st.Connected = len(p.conns)
	st.DialErrors = p.dialErrors
	for k, v := range p.drops {
		st.Drops[k] = v
	}
	st.ReadErrors = p.readErrors
	for k, v := range p.voteErrors {
		st.VoteErrors[k] = v
	}
	p.mu.Unlock()
	st.Open = int(p.open.Load())
	for i, t := range frameTypes {
		if n := p.types[i].Load(); n > 0 {
			st.Frames[t] = n
		}
	}
	st.Comments = p.comments.Load()
	st.ChatSkipped = p.skipped.Load()
	st.Latency.Merge(&p.latency)
	st.VotesSent = p.votesSent.Load()
	st.VotesAcked = p.votesAcked.Load()
	for i := range p.ackedByOpt {
		if n := p.ackedByOpt[i].Load(); n > 0 {
			for len(st.AckedByOpt) <= i {
				st.AckedByOpt = append(st.AckedByOpt, 0)
			}
			st.AckedByOpt[i] = n
		}
	}
	st.FirstVoteNS = p.firstVote.Load()
	st.LastAckNS = p.lastAck.Load()
	return st
}

package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisFanoutConfig configures a RedisFanout.
type RedisFanoutConfig struct {
	// Prefix starts every channel name: one channel per stream, Prefix+"fan:{"+stream+"}". "" → "kudos:".
	Prefix string
	// SubscribeTimeout bounds how long Subscribe waits for Redis to confirm a new channel. 0 → 5s.
	SubscribeTimeout time.Duration
	// Logger receives warnings (undecodable messages, failed unsubscribes). nil → slog.Default().
	Logger *slog.Logger
}

// RedisFanout is the Fanout shared by several nodes through Redis Pub/Sub.
//
// On a Redis Cluster (rdb is a *redis.ClusterClient) it uses sharded Pub/Sub instead (SPUBLISH/SSUBSCRIBE):
// a stream's channel lives on the shard that owns its hash slot, so its messages go to that shard only and
// not to every node of the cluster. Each stream the node has hubs for then has its own subscription
// connection (to the shard of its channel) and its own reader goroutine: the order of one stream's messages
// is kept, and go-redis reconnects a subscription to the channel's new owner after a failover.
//
// Each node holds one Pub/Sub connection, subscribed to the channels of the streams it has hubs for, and one
// goroutine that reads it and calls the handlers, in the order Redis delivered the messages. A node receives
// its own publications too. If the connection drops (Redis restarts), go-redis reconnects and subscribes the
// same channels again; messages published meanwhile are lost, which the Fanout contract allows.
//
// Handlers run on that single goroutine, so a slow handler delays every stream of the node; they must not
// call Subscribe or a cancel func.
type RedisFanout struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	ps      *redis.PubSub            // the node's one subscription; nil on a cluster
	cluster *redis.ClusterClient     // non-nil: sharded Pub/Sub, one subscription per channel (shards)
	closing chan struct{}            // closed when Close starts
	done    chan struct{}            // closed when the dispatch goroutine (every shard's, on a cluster) has returned
	shards  map[string]*redis.PubSub // channel → its sharded subscription; guarded by subMu
	readers sync.WaitGroup           // the shards' dispatch goroutines

	subMu sync.Mutex // serialises Subscribe and cancel, network commands included, so SUBSCRIBE/UNSUBSCRIBE stay in step with subs

	mu      sync.RWMutex // guards the fields below; the dispatcher holds it for reading while it calls handlers
	subs    map[string]map[int]func(Message)
	waiters map[string][]chan struct{} // channel → Subscribe calls waiting for Redis's confirmation
	next    int
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

var _ Fanout = (*RedisFanout)(nil)

// errFanoutClosed is returned by Subscribe after Close.
var errFanoutClosed = errors.New("fan-out is closed")

// NewRedisFanout returns a RedisFanout over rdb and starts its dispatch goroutine; Close stops it. The caller
// owns rdb and closes it after Close.
func NewRedisFanout(rdb redis.UniversalClient, cfg RedisFanoutConfig) *RedisFanout {
	if cfg.Prefix == "" {
		cfg.Prefix = "kudos:"
	}
	if cfg.SubscribeTimeout <= 0 {
		cfg.SubscribeTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &RedisFanout{
		rdb:     rdb,
		prefix:  cfg.Prefix,
		timeout: cfg.SubscribeTimeout,
		log:     cfg.Logger,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		subs:    map[string]map[int]func(Message){},
		waiters: map[string][]chan struct{}{},
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		f.cluster = cc
		f.shards = map[string]*redis.PubSub{}
		return f
	}
	f.ps = rdb.Subscribe(context.Background()) // no channel yet: connects on first use
	// The channel's reader goroutine (go-redis's) pings the connection when idle and reconnects on failure.
	go func() {
		defer close(f.done)
		f.dispatch(f.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)), nil)
	}()
	return f
}

// Sharded reports whether the fan-out uses sharded Pub/Sub (SPUBLISH/SSUBSCRIBE): on a Redis Cluster.
func (f *RedisFanout) Sharded() bool { return f.cluster != nil }

func (f *RedisFanout) channel(stream string) string { return f.prefix + "fan:{" + stream + "}" }

// Publish implements Fanout: m as JSON on the stream's channel.
func (f *RedisFanout) Publish(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode fan-out message of %s: %w", m.Stream, err)
	}
	if f.cluster != nil {
		err = f.cluster.SPublish(ctx, f.channel(m.Stream), b).Err()
		// A moved slot (resharding, failover) answers MOVED until the client's slot map is reloaded; go-redis
		// does not follow MOVED for SPUBLISH, so reload and send again, a few times while the cluster settles.
		for i := 0; i < 3 && err != nil && strings.HasPrefix(err.Error(), "MOVED "); i++ {
			f.cluster.ReloadState(ctx)
			time.Sleep(time.Duration(50*(i+1)) * time.Millisecond)
			err = f.cluster.SPublish(ctx, f.channel(m.Stream), b).Err()
		}
	} else {
		err = f.rdb.Publish(ctx, f.channel(m.Stream), b).Err()
	}
	if err != nil {
		return fmt.Errorf("publish to stream %s: %w", m.Stream, err)
	}
	return nil
}

// Subscribe implements Fanout. The first subscription of a stream on this node returns once Redis has
// confirmed the channel, so a message published after Subscribe returns is delivered.
func (f *RedisFanout) Subscribe(ctx context.Context, stream string, handle func(Message)) (func(), error) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	ch := f.channel(stream)

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("subscribe to stream %s: %w", stream, errFanoutClosed)
	}
	id := f.next
	f.next++
	first := len(f.subs[ch]) == 0
	if first {
		f.subs[ch] = map[int]func(Message){}
	}
	f.subs[ch][id] = handle
	var confirmed chan struct{}
	if first {
		confirmed = make(chan struct{})
		f.waiters[ch] = append(f.waiters[ch], confirmed)
	}
	f.mu.Unlock()

	var once sync.Once
	cancel := func() {
		once.Do(func() {
			f.subMu.Lock()
			defer f.subMu.Unlock()
			f.unsubscribe(ch, id)
		})
	}
	if !first {
		return cancel, nil
	}
	var err error
	if f.cluster != nil {
		err = f.subscribeShard(ctx, ch)
	} else {
		err = f.ps.Subscribe(ctx, ch)
	}
	if err == nil {
		err = f.awaitConfirmation(ctx, confirmed)
	}
	if err != nil {
		f.unsubscribe(ch, id)
		return nil, fmt.Errorf("subscribe to stream %s: %w", stream, err)
	}
	return cancel, nil
}

func (f *RedisFanout) awaitConfirmation(ctx context.Context, confirmed <-chan struct{}) error {
	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	select {
	case <-confirmed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("redis did not confirm the subscription within %v", f.timeout)
	case <-f.closing:
		return errFanoutClosed
	}
}

// unsubscribe removes handler id of ch and, if it was the last, unsubscribes the channel. Callers hold subMu.
func (f *RedisFanout) unsubscribe(ch string, id int) {
	f.mu.Lock()
	delete(f.subs[ch], id)
	last := len(f.subs[ch]) == 0
	if last {
		delete(f.subs, ch)
		delete(f.waiters, ch)
	}
	closed := f.closed
	f.mu.Unlock()
	if !last || closed {
		return
	}
	if f.cluster != nil {
		if ps := f.shards[ch]; ps != nil {
			delete(f.shards, ch)
			if err := ps.Close(); err != nil {
				f.log.Warn("close sharded fan-out subscription", "channel", ch, "err", err)
			}
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	if err := f.ps.Unsubscribe(ctx, ch); err != nil {
		// go-redis has forgotten the channel already: it will not be subscribed again on reconnect.
		f.log.Warn("unsubscribe from stream fan-out", "channel", ch, "err", err)
	}
}

// subscribeShard opens the sharded subscription of ch (on a cluster), on a connection to the shard that owns
// ch's slot, and starts its reader. Callers hold subMu.
func (f *RedisFanout) subscribeShard(ctx context.Context, ch string) error {
	ps := f.cluster.SSubscribe(ctx) // no channel: no connection yet
	// SSUBSCRIBE before the reader starts: the connection is then opened to the owner of ch's slot (the
	// reader's first read would open one to a random node). The confirmation waits in the socket meanwhile.
	if err := ps.SSubscribe(ctx, ch); err != nil {
		_ = ps.Close()
		return err
	}
	f.shards[ch] = ps
	f.readers.Add(1)
	go func() {
		defer f.readers.Done()
		f.dispatch(ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)), func() {
			f.readers.Add(1) // from a reader: the count is above zero, so Close's Wait sees it
			go func() {
				defer f.readers.Done()
				f.moveShard(ch, ps)
			}()
		})
	}()
	return nil
}

// moveShard subscribes ch again after its shard dropped it: when a slot moves to another primary (a
// resharding, a failover) the old owner ends its sharded subscriptions with SUNSUBSCRIBE, which go-redis does
// not repeat on its own. lost is the subscription that ended; if it is no longer ch's (cancelled, replaced)
// or nobody on the node wants ch any more, nothing is done. The cluster's slot map is reloaded first (the
// client's still names the old owner), and a try counts only once the new owner confirms; failures are
// retried with a growing pause (up to 2 s) until one succeeds or the fan-out closes. Messages published
// meanwhile are lost, as the Fanout contract allows.
func (f *RedisFanout) moveShard(ch string, lost *redis.PubSub) {
	pause := 100 * time.Millisecond
	for {
		f.cluster.ReloadState(context.Background())
		select {
		case <-f.closing:
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
		done, err := f.resubscribeShard(ch, lost)
		if done {
			if err == nil {
				f.log.Info("stream fan-out subscribed again after its shard dropped it", "channel", ch)
			}
			return
		}
		lost = nil // ch has no subscription now: the next try expects none
		f.log.Warn("subscribe stream fan-out again after its shard dropped it", "channel", ch, "err", err)
	}
}

// resubscribeShard is one try of moveShard: done is true when ch was subscribed again (err nil) or needs
// no subscription from this try; otherwise err says why the try failed, and ch is left without one.
func (f *RedisFanout) resubscribeShard(ch string, lost *redis.PubSub) (done bool, err error) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.mu.Lock()
	wanted := !f.closed && len(f.subs[ch]) > 0
	var confirmed chan struct{}
	if wanted && f.shards[ch] == lost {
		confirmed = make(chan struct{})
		f.waiters[ch] = append(f.waiters[ch], confirmed)
	}
	f.mu.Unlock()
	if confirmed == nil {
		return true, nil
	}
	if lost != nil {
		_ = lost.Close()
		delete(f.shards, ch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	err = f.subscribeShard(ctx, ch)
	if err == nil {
		err = f.awaitConfirmation(ctx, confirmed)
	}
	if err == nil {
		return true, nil
	}
	if ps := f.shards[ch]; ps != nil {
		_ = ps.Close()
		delete(f.shards, ch)
	}
	f.mu.Lock()
	delete(f.waiters, ch)
	f.mu.Unlock()
	return false, err
}

// dispatch reads one subscription (the node's only one; on a cluster, one stream's): it confirms
// subscriptions and calls handlers in delivery order; dropped (sharded only) is called when the server ends
// the subscription (SUNSUBSCRIBE: the channel's slot moved). It returns when the PubSub is closed (go-redis
// then closes in).
func (f *RedisFanout) dispatch(in <-chan any, dropped func()) {
	for v := range in {
		switch v := v.(type) {
		case *redis.Subscription:
			switch {
			case v.Kind == "subscribe" || v.Kind == "ssubscribe":
				f.confirm(v.Channel)
			case v.Kind == "sunsubscribe" && dropped != nil:
				dropped()
			}
		case *redis.Message:
			f.deliver(v)
		}
	}
}

func (f *RedisFanout) confirm(ch string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.waiters[ch] {
		close(w)
	}
	delete(f.waiters, ch)
}

func (f *RedisFanout) deliver(rm *redis.Message) {
	var m Message
	if err := json.Unmarshal([]byte(rm.Payload), &m); err != nil {
		f.log.Warn("drop undecodable fan-out message", "channel", rm.Channel, "err", err)
		return
	}
	if rm.Channel != f.channel(m.Stream) {
		f.log.Warn("drop fan-out message for another stream", "channel", rm.Channel, "stream", m.Stream)
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, h := range f.subs[rm.Channel] {
		h(m)
	}
}

// Close implements Fanout: it closes the Pub/Sub connection and waits for the dispatch goroutine. Handlers
// are not called after Close returns.
func (f *RedisFanout) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		clear(f.subs)
		f.mu.Unlock()
		close(f.closing) // a Subscribe waiting for its confirmation gives up, and lets go of subMu
		if f.cluster == nil {
			if err := f.ps.Close(); err != nil {
				f.closeErr = fmt.Errorf("close fan-out subscription: %w", err)
			}
			return
		}
		f.subMu.Lock()
		for ch, ps := range f.shards {
			if err := ps.Close(); err != nil && f.closeErr == nil {
				f.closeErr = fmt.Errorf("close fan-out subscription of %s: %w", ch, err)
			}
		}
		clear(f.shards)
		f.subMu.Unlock()
		f.readers.Wait()
		close(f.done)
	})
	<-f.done
	return f.closeErr
}

package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisDurationBuckets are the upper bounds, in seconds, of kudos_redis_command_duration_seconds: a command
// on a nearby Redis takes a fraction of a millisecond, a Lua script or a pipeline a few; the top buckets
// catch a saturated or failing server (go-redis's own timeouts are 3 s).
var RedisDurationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 3}

// redisMetrics is a go-redis hook timing every command and pipeline of a client and counting its failures.
type redisMetrics struct {
	duration *prometheus.HistogramVec // by command
	errors   *prometheus.CounterVec   // by command
}

var _ redis.Hook = (*redisMetrics)(nil)

// newRedisMetrics creates the hook's collectors and registers them with reg (nil: not registered); a
// registry that already holds them (a second client on one registry) shares them.
func newRedisMetrics(reg prometheus.Registerer) (*redisMetrics, error) {
	m := &redisMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kudos_redis_command_duration_seconds",
			Help:    "Redis calls by command (lower case; \"pipeline\" or \"multi\" for a pipeline or transaction, \"handshake\" for a new connection's setup) and their duration, failures included.",
			Buckets: RedisDurationBuckets,
		}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kudos_redis_errors_total",
			Help: "Redis calls that failed (a network error, a timeout, an error reply), by command; a missing key, a lost WATCH race and a script not yet loaded are not failures.",
		}, []string{"command"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.duration); err != nil {
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			return nil, err
		}
		m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
	}
	if err := reg.Register(m.errors); err != nil {
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			return nil, err
		}
		m.errors = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return m, nil
}

// DialHook implements redis.Hook: dials are not timed (a failed dial fails the command that needed it).
func (m *redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook implements redis.Hook.
func (m *redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		name := cmd.Name()
		if handshakeCommands[name] {
			name = "handshake"
		}
		m.observe(name, start, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook: a pipeline is one call, "multi" when it is a transaction.
func (m *redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		name := "handshake"
		for _, c := range cmds {
			if !handshakeCommands[c.Name()] {
				name = "pipeline"
				break
			}
		}
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			name = "multi"
		}
		m.observe(name, start, err)
		return err
	}
}

// handshakeCommands are what go-redis sends on a new connection (through the client's hooks too), and Kudos
// itself never: timed together as "handshake". go-redis tolerates their error replies (an older Redis
// without CLIENT SETINFO, say), so those are not counted as failures; a connection that really fails its
// handshake fails the command that needed it, which is.
var handshakeCommands = map[string]bool{"hello": true, "auth": true, "select": true, "client": true, "readonly": true}

func (m *redisMetrics) observe(command string, start time.Time, err error) {
	m.duration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	if command != "handshake" && redisFailed(err) {
		m.errors.WithLabelValues(command).Inc()
	}
}

// redisFailed tells a failure of Redis from the answers that are part of normal work: redis.Nil (no such
// key), TxFailedErr (a WATCHed key changed: the optimistic update retries), NOSCRIPT (go-redis then sends the
// script itself) and a caller that went away (context.Canceled).
func redisFailed(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, redis.TxFailedErr), errors.Is(err, context.Canceled):
		return false
	case redis.HasErrorPrefix(err, "NOSCRIPT"):
		return false
	}
	return true
}

package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

// backends are the state and event components chosen by configuration.
type backends struct {
	store    engagement.Store
	fanout   stream.Fanout
	presence stream.Presence
	sink     engagement.Sink
	ready    func(context.Context) error
	closers  []func() error
}

// buildBackends picks memory or Redis state and the Kafka sink, and logs which.
func buildBackends(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (*backends, error) {
	b := &backends{}
	sink, closers, err := buildSink(ctx, cfg, log, reg)
	if err != nil {
		return nil, err
	}
	b.sink = sink
	b.closers = append(b.closers, closers...)
	log.Info("state: in-memory (KUDOS_REDIS_URL not set): single node, lost on restart")
	b.store = engagement.NewMemoryStore()
	b.fanout = stream.NewMemoryFanout()
	b.presence = stream.NewMemoryPresence()
	return b, nil
}

// close releases the backends in reverse order of creation.
func (b *backends) close(log *slog.Logger) {
	for i := len(b.closers) - 1; i >= 0; i-- {
		if err := b.closers[i](); err != nil {
			log.Error("close backend", "err", err)
		}
	}
}

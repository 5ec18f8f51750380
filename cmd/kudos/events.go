package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/cmd/internal/eventsink"
	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
)

// buildSink starts the event path: the embedded development broker when no brokers are configured, then
// the durable sink (disk spool → Kafka). It returns the sink and the functions that stop what it started,
// in the order they must run (sink first, so it can flush into the broker, then the broker).
func buildSink(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (*eventsink.Sink, []func() error, error) {
	var stops []func() error
	brokers := cfg.KafkaBrokers
	// One security for every connection to Kafka (kafkasec); refused here, before anything starts, when
	// incomplete. FromEnv already refused TLS or SASL with the embedded broker.
	security, err := kafkasec.New(cfg.KafkaSecurity)
	if err != nil {
		return nil, nil, fmt.Errorf("Kafka security: %w", err)
	}
	switch {
	case cfg.KafkaDisabled:
		log.Warn("events: KUDOS_KAFKA_BROKERS=none; events are only spooled to disk", "spool", cfg.SpoolDir)
		brokers = nil
	case cfg.KafkaEmbedded:
		// Not ctx: the signal that ends ctx must not take the broker down before the sink has flushed into
		// it; the returned closers stop it after the sink.
		stop, err := eventsink.StartDevBroker(context.WithoutCancel(ctx), cfg.DevBrokerAddr, log)
		if err != nil {
			return nil, nil, fmt.Errorf("start the embedded development Kafka broker on %s (set KUDOS_KAFKA_BROKERS to use a real one, or none): %w", cfg.DevBrokerAddr, err)
		}
		stops = append(stops, func() error { stop(); return nil })
		log.Info("events: embedded development broker (KUDOS_KAFKA_BROKERS not set)",
			"addr", cfg.DevBrokerAddr, "topic", cfg.KafkaTopic, "try", "kcat -b "+cfg.DevBrokerAddr+" -t "+cfg.KafkaTopic+" -C")
	default:
		log.Info("events: Kafka", "brokers", brokers, "topic", cfg.KafkaTopic, "security", security.String())
		if security != nil && security.SASL() != nil && security.TLSConfig() == nil {
			log.Warn("events: Kafka SASL without TLS: the password is not sent (SCRAM) but every event, chat text included, travels in clear; set KUDOS_KAFKA_TLS=1 unless the network is private")
		}
	}
	sink, err := eventsink.New(ctx, eventsink.Config{
		Dir:          cfg.SpoolDir,
		Brokers:      brokers,
		Topic:        cfg.KafkaTopic,
		Logger:       log,
		Registerer:   reg,
		Source:       "kudos/" + cfg.Node,
		FlushTimeout: 5 * time.Second,
		Security:     security,
		MaxBytes:     cfg.SpoolMaxBytes, // 0: the default
	})
	if err != nil {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i]()
		}
		if errors.Is(err, kafkasec.ErrRejected) {
			return nil, nil, fmt.Errorf("Kafka security (KUDOS_KAFKA_TLS*, KUDOS_KAFKA_SASL_*): %w", err)
		}
		return nil, nil, fmt.Errorf("open event spool in %s: %w", cfg.SpoolDir, err)
	}
	log.Info("events: durable spool", "dir", cfg.SpoolDir)
	// closers run last-first: the broker stop was appended first, so it runs after the sink's Close.
	return sink, append(stops, sink.Close), nil
}

package eventsink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultDevBrokerAddr is where StartDevBroker listens when given no address.
const DefaultDevBrokerAddr = "127.0.0.1:9092"

// devBrokerPartitions is the partition count of the pre-created topic.
const devBrokerPartitions = 3

// StartDevBroker starts an in-memory, single-node Kafka-compatible broker (franz-go's kfake) on addr
// (default DefaultDevBrokerAddr) with DefaultTopic created, for development without a real Kafka. It keeps
// nothing across restarts. stop closes it; it is also closed when ctx ends.
func StartDevBroker(ctx context.Context, addr string, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		addr = DefaultDevBrokerAddr
	}
	if logger == nil {
		logger = slog.Default()
	}
	listen := func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.SeedTopics(devBrokerPartitions, DefaultTopic),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(devBrokerPartitions),
		kfake.WithLogger(kfakeLogger{logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("start development Kafka broker on %s: %w", addr, err)
	}
	logger.Warn("IN-MEMORY DEVELOPMENT KAFKA BROKER: events are lost when it stops; do not use in production",
		"addr", cluster.ListenAddrs()[0], "topic", DefaultTopic)
	var once sync.Once
	stopAfter := context.AfterFunc(ctx, func() { once.Do(cluster.Close) })
	return func() {
		stopAfter()
		once.Do(cluster.Close)
	}, nil
}

// kfakeLogger passes kfake's warnings and errors to slog.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error("dev broker: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		l.log.Warn("dev broker: " + fmt.Sprintf(format, args...))
	}
}

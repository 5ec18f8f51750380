package eventsink_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/eventsink"
	"github.com/kudos-live/kudos/engagement"
)

// A sink without brokers keeps events in its spool; with Config.Brokers set it forwards them to Kafka.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "spool")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	sink, err := eventsink.New(ctx, eventsink.Config{
		Dir:    dir,
		Source: "kudos/node-1",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer sink.Close()

	like, err := engagement.NewEvent("", engagement.EventLikeSent, "stream-42", "user-7", "A", time.Now(),
		map[string]int{"count": 3})
	if err != nil {
		panic(err)
	}
	if err := sink.Publish(ctx, like); err != nil { // returns once the event is fsynced
		panic(err)
	}
	fmt.Println("spooled:", sink.Stats().Spooled)
	// Output: spooled: 1
}

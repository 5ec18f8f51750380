package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

// TestPresenceOnABigStreamEveryTwoSeconds: while an audience pours into a big stream (WriteDelayFrom viewers
// on the node; 2 here) the count changes at every tick, and each presence frame is a write to every socket:
// the sockets get it once every 2 s, not twice a second. Small streams keep 0.5 s (TestPresenceCountsViewers).
func TestPresenceOnABigStreamEveryTwoSeconds(t *testing.T) {
	ts := newTestServer(t, serverOpts{streamCfg: stream.Config{WriteDelayFrom: 2}})
	ts.createStream("s1")
	a := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	a.expect("welcome")
	type seen struct {
		at      time.Time
		viewers float64
	}
	frames := make(chan seen, 100)
	go func() { // ann's socket, read to its end (the test's cleanup closes it)
		defer close(frames)
		for {
			_, msg, err := a.conn.ReadMessage()
			if err != nil {
				return
			}
			for _, line := range bytes.Split(msg, []byte{'\n'}) {
				var f struct {
					Type string `json:"type"`
					Data struct {
						Viewers float64 `json:"viewers"`
					} `json:"data"`
				}
				if json.Unmarshal(line, &f) == nil && f.Type == "presence" {
					frames <- seen{time.Now(), f.Data.Viewers}
				}
			}
		}
	}()
	// A new viewer every 150 ms for 4.6 s: the count changes between any two presence ticks.
	joined := 1
	for end := time.Now().Add(4600 * time.Millisecond); time.Now().Before(end); joined++ {
		ts.dial("s1", ts.token(fmt.Sprintf("v%d", joined), engagement.RoleViewer, "")).expect("welcome")
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	var got []seen
	for len(frames) > 0 {
		got = append(got, <-frames)
	}
	if len(got) < 2 {
		t.Fatalf("%d presence frames in 4.7 s of joins (%d viewers), want at least 2", len(got), joined)
	}
	for i := 1; i < len(got); i++ {
		// 2 s between frames, less the jitter of the hub's 250 ms ticker
		if gap := got[i].at.Sub(got[i-1].at); gap < 1700*time.Millisecond {
			t.Errorf("presence %v then %v viewers %v apart, want about 2 s on a big stream", got[i-1].viewers, got[i].viewers, gap.Round(time.Millisecond))
		}
		if got[i].viewers <= got[i-1].viewers {
			t.Errorf("presence went from %v to %v viewers while viewers only joined", got[i-1].viewers, got[i].viewers)
		}
	}
}

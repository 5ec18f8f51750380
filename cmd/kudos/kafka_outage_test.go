package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/segmentio/kafka-go"
)

// privateKafka starts a broker of its own with scripts/kafka.sh (a separate state dir), so that this test
// can stop it without disturbing the other packages' tests on the shared broker.
type privateKafka struct {
	t     *testing.T
	state string
	addr  string
}

func startPrivateKafka(t *testing.T) *privateKafka {
	t.Helper()
	testenv.KafkaBrokers(t) // the shared broker's presence means scripts/test.sh fetched the jars
	k := &privateKafka{t: t, state: t.TempDir()}
	k.ctl("start")
	k.addr = strings.TrimSpace(k.ctl("brokers"))
	t.Cleanup(func() { k.ctl("clean") })
	return k
}

func (k *privateKafka) ctl(verb string) string {
	k.t.Helper()
	script, _ := filepath.Abs("../../scripts/kafka.sh")
	cmd := exec.Command("bash", script, verb)
	cmd.Env = append(os.Environ(), "KUDOS_KAFKA_STATE="+k.state)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		k.t.Fatalf("kafka.sh %s: %v\n%s", verb, err, stderr)
	}
	return string(out)
}

// commentIDsInTopic reads every partition of the topic to its end and returns the comment ids of
// comment.posted events, with how often each appears (at-least-once: duplicates are allowed).
func commentIDsInTopic(t *testing.T, broker, topic string) map[string]int {
	t.Helper()
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			var ev struct {
				Type string
				Data struct {
					CommentID string `json:"comment_id"`
				}
			}
			if json.Unmarshal(m.Value, &ev) == nil && ev.Type == "kudos.comment.posted" {
				ids[ev.Data.CommentID]++
			}
		}
		r.Close()
	}
	return ids
}

// chatter posts comments from several viewers at a steady pace and records the ids of acknowledged ones.
type chatter struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	done  sync.WaitGroup
}

func startChatter(t *testing.T, n *node, streamID string, viewers int) *chatter {
	c := &chatter{stop: make(chan struct{})}
	for i := range viewers {
		v := openViewerNoCleanup(t, n, streamID, mint(t, fmt.Sprintf("%s-chat%d-%d", streamID, time.Now().UnixNano(), i), "viewer", ""))
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			defer v.close()
			for k := 0; ; k++ {
				select {
				case <-c.stop:
					return
				case <-time.After(1100 * time.Millisecond): // under the per-user comment rate
				}
				id := fmt.Sprintf("m%d", k)
				if v.conn == nil || v.conn.WriteJSON(map[string]any{"type": "comment.send", "id": id, "data": map[string]string{"text": "steady " + id}}) != nil {
					return
				}
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if r := v.reply(id); r != nil {
						if r["type"] == "ack" {
							c.mu.Lock()
							c.acked = append(c.acked, r["data"].(map[string]any)["comment_id"].(string))
							c.mu.Unlock()
						}
						break
					}
				}
			}
		}()
	}
	return c
}

func (c *chatter) finish() []string {
	close(c.stop)
	c.done.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.acked...)
}

func missingFrom(acked []string, inTopic map[string]int) []string {
	var missing []string
	for _, id := range acked {
		if inTopic[id] == 0 {
			missing = append(missing, id)
		}
	}
	return missing
}

// TestKafkaOutageAndKill: the broker stops for 30 s during a steady stream of comments and comes back; then the
// server is killed with SIGKILL mid-stream and restarted on the same spool. Every acknowledged comment's
// event is in the topic afterwards.
func TestKafkaOutageAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute")
	}
	k := startPrivateKafka(t)
	spool := t.TempDir()
	env := []string{"KUDOS_KAFKA_BROKERS=" + k.addr, "KUDOS_SPOOL_DIR=" + spool}
	// Memory state: a restarted node has no streams, so each phase creates its own.
	n := startNodeNoRedis(t, "node-k", env...)
	streamID := randomID("ko-")
	n.createStream(t, streamID)

	chat := startChatter(t, n, streamID, 8)
	time.Sleep(3 * time.Second)
	k.ctl("stop")
	t.Log("broker stopped")
	time.Sleep(30 * time.Second)
	k.ctl("start")
	t.Log("broker back")
	time.Sleep(3 * time.Second)
	acked := chat.finish()
	if len(acked) < 100 {
		t.Fatalf("only %d comments acknowledged during the outage run; the traffic did not flow", len(acked))
	}
	var missing []string
	waitForWithin(t, 60*time.Second, func() bool {
		missing = missingFrom(acked, commentIDsInTopic(t, k.addr, "kudos.events"))
		return len(missing) == 0
	})
	t.Logf("outage: %d comments acknowledged, all %d found in the topic", len(acked), len(acked))

	// SIGKILL mid-stream, restart on the same spool.
	chat = startChatter(t, n, streamID, 8)
	time.Sleep(4 * time.Second)
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	acked = chat.finish()
	_ = n.cmd.Wait()
	n.cmd.Process = nil
	n2 := startNodeNoRedis(t, "node-k2", env...)
	waitForWithin(t, 60*time.Second, func() bool {
		missing = missingFrom(acked, commentIDsInTopic(t, k.addr, "kudos.events"))
		return len(missing) == 0
	})
	t.Logf("kill -9: %d comments acknowledged before the kill, all found after the restart", len(acked))

	// SIGTERM mid-show: the server drains its sockets and flushes its spool to Kafka before it exits, so
	// everything acknowledged is in the topic with no restart.
	stream2 := randomID("ko-")
	n2.createStream(t, stream2)
	chat = startChatter(t, n2, stream2, 8)
	time.Sleep(3 * time.Second)
	_ = n2.cmd.Process.Signal(syscall.SIGTERM)
	acked = chat.finish()
	if err := n2.cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	n2.cmd.Process = nil
	missing = missingFrom(acked, commentIDsInTopic(t, k.addr, "kudos.events"))
	if len(missing) > 0 {
		t.Fatalf("SIGTERM: %d of %d acknowledged comments missing from the topic after a clean shutdown", len(missing), len(acked))
	}
	t.Logf("SIGTERM: %d comments acknowledged, all in the topic when the process exited", len(acked))
}

func waitForWithin(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("condition not met within %s", d)
}

func (n *node) createStream(t *testing.T, id string) {
	t.Helper()
	host := mint(t, "host-"+id, "host", id)
	if st, body := n.do("POST", "/api/v1/streams", host, map[string]any{"id": id, "title": "steady"}); st != 201 {
		t.Fatalf("create stream on %s: %d %v", n.name, st, body)
	}
}

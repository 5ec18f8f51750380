package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestEventsEndToEndOnRealBroker runs a show through the real server against the real broker and reads the
// topic back: every interaction kind is there, every event is valid against its schema in docs/events, each is
// keyed by its user (or, without one, its stream), and one user's events sit in one partition in order.
func TestEventsEndToEndOnRealBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	runEventsEndToEnd(t, brokers, &kafka.Dialer{Timeout: 10 * time.Second}, "KUDOS_KAFKA_BROKERS="+strings.Join(brokers, ","))
}

// TestEventsEndToEndOverTLSAndSCRAM is the same run with the server connected only to the broker's SASL_SSL
// listener (TLS with the run's CA and a client certificate, SASL SCRAM-SHA-512), read back over that
// listener by a client configured here, independently of the server's code.
func TestEventsEndToEndOverTLSAndSCRAM(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	pool := x509.NewCertPool()
	if ca, err := os.ReadFile(k.CA); err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("read CA %s: %v", k.CA, err)
	}
	pair, err := tls.LoadX509KeyPair(k.Cert, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	mech, err := scram.Mechanism(scram.SHA512, k.User, k.Password)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mech,
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	n := runEventsEndToEnd(t, k.Brokers, dialer, k.Env()...)
	if logs := n.logs.String(); !strings.Contains(logs, "SASL SCRAM-SHA-512 as "+k.User) || strings.Contains(logs, k.Password) {
		t.Fatalf("the server's log does not say it uses TLS and SCRAM (or shows the password):\n%s", logs)
	}
}

// millisTime is an event's time as the events carry it: UTC, to the millisecond.
var millisTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$`)

// runEventsEndToEnd runs the show on a server started with env and reads the topic back from brokers with
// dialer.
func runEventsEndToEnd(t *testing.T, brokers []string, dialer *kafka.Dialer, env ...string) *node {
	schemas := testenv.EventSchemas(t, "../../docs/events")
	topic := "kudos.e2e." + randomID("")
	// Quiet hours off: the run must not depend on the hour it runs at.
	n := startNodeNoRedis(t, "node-e", append(env, "KUDOS_KAFKA_TOPIC="+topic, "KUDOS_QUIET_HOURS=off")...)
	streamID := randomID("ev-")
	n.createStream(t, streamID)
	host := mint(t, "host-"+streamID, "host", streamID)
	shop := mint(t, "shop", "service", "")
	ann, bob := streamID+"-ann", streamID+"-bob"
	va := openViewer(t, n, streamID, mint(t, ann, "viewer", ""))
	vb := openViewer(t, n, streamID, mint(t, bob, "viewer", ""))
	eventually(t, "welcomes", func() bool { return len(va.matching("welcome", nil)) == 1 && len(vb.matching("welcome", nil)) == 1 })

	ack := func(v *viewerConn, typ, id string, data any) map[string]any {
		t.Helper()
		v.send(t, typ, id, data)
		var r map[string]any
		eventually(t, "reply to "+id, func() bool { r = v.reply(id); return r != nil })
		if r["type"] != "ack" {
			t.Fatalf("%s %s: %v", typ, id, r)
		}
		d, _ := r["data"].(map[string]any)
		return d
	}
	post := func(path, token string, body any) map[string]any {
		t.Helper()
		st, m := n.do("POST", path, token, body)
		if st >= 300 {
			t.Fatalf("POST %s: %d %v", path, st, m)
		}
		return m
	}
	base := "/api/v1/streams/" + streamID
	c := ack(va, "comment.send", "c1", map[string]string{"text": "does it come in blue?"})
	ack(vb, "comment.send", "c2", map[string]string{"text": "wow"})
	va.send(t, "like.send", "", map[string]int{"count": 7})
	post(base+"/moderation", host, map[string]any{"action": "remove_comment", "comment_id": c["comment_id"]})
	poll := post(base+"/polls", host, map[string]any{"question": "Colour?", "options": []string{"blue", "red"}})
	ack(va, "poll.vote", "v", map[string]any{"poll_id": poll["id"], "option": 0})
	post(base+"/polls/"+poll["id"].(string)+"/close", host, nil)
	quiz := post(base+"/quizzes", host, map[string]any{"questions": []any{map[string]any{"text": "Price?", "choices": []string{"¥99", "¥199"}, "answer": 1, "time_limit_s": 30}}})
	qid := quiz["id"].(string)
	post(base+"/quizzes/"+qid+"/next", host, nil)
	var question map[string]any
	eventually(t, "quiz question", func() bool {
		qs := va.matching("quiz.question", nil)
		if len(qs) > 0 {
			question = qs[0]
		}
		return question != nil
	})
	ack(va, "quiz.answer", "q", map[string]any{"quiz_id": qid, "question_id": question["question_id"], "choice": 1})
	post(base+"/quizzes/"+qid+"/next", host, nil)
	ack(va, "feedback.send", "f1", map[string]any{"kind": "rating", "score": 5})
	ack(vb, "feedback.send", "f2", map[string]any{"kind": "nps", "score": 9})
	coupon := post(base+"/coupons", host, map[string]any{"title": "¥10 off", "stock": 5, "expires_s": 300})
	ack(vb, "coupon.claim", "cc", map[string]any{"coupon_id": coupon["id"]})
	draw := post(base+"/draws", host, map[string]any{"prize": "Scarf", "winners": 1, "eligible": "all"})
	ack(va, "draw.enter", "d", map[string]any{"draw_id": draw["id"]})
	post(base+"/draws/"+draw["id"].(string)+"/run", host, nil)
	q := ack(vb, "question.ask", "qa", map[string]string{"text": "Is the fabric washable?"})
	ack(va, "question.upvote", "qu", map[string]any{"question_id": q["question_id"]})
	post(base+"/questions/"+q["question_id"].(string)+"/answer", host, nil)
	order := randomID("o-")
	post("/api/v1/purchases", shop, map[string]any{"order_id": order, "user_id": ann, "stream_id": streamID, "amount_fen": 12345})
	post("/api/v1/purchases/"+order+"/refund", shop, nil)
	post("/api/v1/notifications", shop, map[string]any{"id": randomID("n-"), "kind": "coupon_expiring", "title": "Your coupon expires soon", "users": []string{bob}})
	vb.close()
	post(base+"/end", host, nil)

	want := []string{"stream.started", "viewer.joined", "viewer.left", "comment.posted", "comment.removed", "like.sent",
		"poll.opened", "poll.voted", "poll.closed", "quiz.question", "quiz.answered", "quiz.revealed", "feedback.given",
		"coupon.dropped", "coupon.claimed", "draw.entered", "draw.won", "question.asked", "question.upvoted",
		"question.answered", "purchase.recorded", "purchase.refunded", "points.awarded", "notification.sent", "stream.ended"}
	type seen struct {
		partition int
		offset    int64
		id, user  string
		time      time.Time
	}
	var events []seen
	types := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		events, types = events[:0], map[string]int{}
		conn, err := dialer.Dial("tcp", brokers[0])
		if err != nil {
			t.Fatal(err)
		}
		parts, err := conn.ReadPartitions(topic)
		conn.Close()
		partitionIDs := make([]int, len(parts))
		for i, p := range parts {
			partitionIDs[i] = p.ID
		}
		slices.Sort(partitionIDs)
		if err == nil && len(parts) == 1 {
			// With one partition every key lands in it, and the murmur2 check below could not fail.
			t.Fatalf("topic %s has %d partition(s); the broker must create topics with several", topic, len(parts))
		}
		if err == nil {
			for _, p := range parts {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Dialer: dialer, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					m, err := r.ReadMessage(ctx)
					cancel()
					if err != nil {
						break
					}
					typ, err := testenv.ValidateEvent(schemas, m.Value)
					if err != nil {
						t.Fatalf("event at partition %d offset %d does not match its schema: %v\n%s", m.Partition, m.Offset, err, m.Value)
					}
					var ev struct {
						ID      string    `json:"id"`
						UserID  string    `json:"userid"`
						Subject string    `json:"subject"`
						Time    time.Time `json:"time"`
					}
					_ = json.Unmarshal(m.Value, &ev)
					var rawTime struct {
						Time string `json:"time"`
					}
					_ = json.Unmarshal(m.Value, &rawTime)
					if !millisTime.MatchString(rawTime.Time) {
						t.Fatalf("%s %s: time %q, want UTC with exactly three fraction digits", typ, ev.ID, rawTime.Time)
					}
					if wantKey := ev.UserID; wantKey != string(m.Key) && !(wantKey == "" && ev.Subject == string(m.Key)) {
						t.Fatalf("%s keyed %q, want the user %q (or the stream without one)", typ, m.Key, ev.UserID)
					}
					// The CloudEvents Kafka binding, structured mode, and Kafka's own fields.
					headers := map[string]string{}
					for _, h := range m.Headers {
						headers[h.Key] = string(h.Value)
					}
					if headers["content-type"] != "application/cloudevents+json; charset=UTF-8" || headers["ce_type"] != typ || headers["ce_id"] != ev.ID {
						t.Fatalf("%s %s: headers %v, want content-type, ce_type and ce_id", typ, ev.ID, headers)
					}
					if !m.Time.Equal(ev.Time.Truncate(time.Millisecond)) {
						t.Fatalf("%s %s: record timestamp %v, want the event's time %v", typ, ev.ID, m.Time, ev.Time)
					}
					if want := (kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: m.Key}, partitionIDs...); m.Partition != want {
						t.Fatalf("%s keyed %q in partition %d, want murmur2's %d (the Java client's)", typ, m.Key, m.Partition, want)
					}
					types[strings.TrimPrefix(typ, "kudos.")]++
					events = append(events, seen{m.Partition, m.Offset, ev.ID, ev.UserID, ev.Time})
				}
				r.Close()
			}
		}
		missing := []string{}
		for _, w := range want {
			if types[w] == 0 {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event types never reached the topic: %v (saw %v)", missing, types)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// One user's events: one partition, and in the topic in the order they happened: the time part of their
	// ULIDs (the first 10 characters, milliseconds) never goes back. Within one millisecond the order of the
	// rest is not promised: the events of a ledger change have ids derived from its key (docs/events.md).
	byUser := map[string][]seen{}
	for _, e := range events {
		if e.user != "" {
			byUser[e.user] = append(byUser[e.user], e)
		}
	}
	for user, es := range byUser {
		sort.Slice(es, func(i, j int) bool { return es[i].offset < es[j].offset })
		for i, e := range es {
			if e.partition != es[0].partition {
				t.Fatalf("user %s's events span partitions %d and %d", user, es[0].partition, e.partition)
			}
			if i > 0 && e.id[:10] < es[i-1].id[:10] {
				t.Fatalf("user %s's events out of order at offset %d: %s after %s", user, e.offset, e.id, es[i-1].id)
			}
		}
	}
	t.Logf("%d events of %d types, all valid against their schemas, keyed and ordered per user", len(events), len(types))
	return n
}

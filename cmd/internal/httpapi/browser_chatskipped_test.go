package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

// TestBrowserChatSkippedLine: a flood of someone else's chat is thinned for the viewer, and the page says how
// many comments it did not get, in one line per gap ("… comments skipped"): what arrived and what the lines
// count add up to every comment of the flood.
func TestBrowserChatSkippedLine(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	b := newBrowser(t)
	ann := openViewer(ts, b, "ann", "s1")
	const n = 100
	for i := range n { // at once: the viewer's sampling bucket holds 20
		out := engagement.Outcome{Stream: "s1", Sampled: true, From: "bob", Broadcast: []engagement.Frame{{Type: "comment",
			Data: map[string]any{"id": fmt.Sprint("flood-", i), "user": "bob", "name": "Bob", "text": fmt.Sprint("flood ", i)}}}}
		if err := ts.reg.Deliver(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
	// A last frame after the flood (the host's words, never skipped), which carries the count of the skipped
	// tail to the page.
	if err := ts.reg.Deliver(context.Background(), engagement.Outcome{Stream: "s1",
		Broadcast: []engagement.Frame{{Type: "comment", Data: map[string]any{"id": "last", "user": "host", "name": "Host", "text": "last", "role": "host"}}}}); err != nil {
		t.Fatal(err)
	}
	ann.waitFor(`#chat-list li.chat-skipped`)
	ann.waitText(`#chat-list li.chat-skipped`, "skipped to keep up with the show") // "1 comment …" or "N comments …"
	const tally = `(() => {
		const shown = document.querySelectorAll('#chat-list li.chat-item[data-user="bob"]').length;
		let skipped = 0;
		for (const li of document.querySelectorAll('#chat-list li.chat-skipped')) skipped += Number(li.dataset.count);
		return JSON.stringify({shown, skipped});
	})()`
	ann.waitUntil(fmt.Sprintf("shown + skipped = %d", n), func() (bool, string, error) {
		v, err := evalIn[string](ann, tally)
		if err != nil {
			return false, "", err
		}
		var got struct{ Shown, Skipped int }
		if err := json.Unmarshal([]byte(v), &got); err != nil {
			return false, v, err
		}
		return got.Shown+got.Skipped == n && got.Skipped >= n-40, v, nil
	})
	ann.noExceptions()
}

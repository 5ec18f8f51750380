package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kudos-live/kudos/engagement"
)

func TestDecodeClient(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		wantID string
		code   engagement.Code
		check  func(t *testing.T, a engagement.Action)
	}{
		{name: "comment", in: `{"type":"comment.send","id":"a1","data":{"text":"hi"}}`, wantID: "a1", check: func(t *testing.T, a engagement.Action) {
			if c, ok := a.(*engagement.CommentSend); !ok || c.Text != "hi" {
				t.Fatalf("action = %#v", a)
			}
		}},
		{name: "like without id", in: `{"type":"like.send","data":{"count":3}}`, check: func(t *testing.T, a engagement.Action) {
			if l, ok := a.(*engagement.LikeSend); !ok || l.Count != 3 {
				t.Fatalf("action = %#v", a)
			}
		}},
		{name: "ping", in: `{"type":"ping","id":"p"}`, wantID: "p"},
		{name: "auth.refresh is the transport's", in: `{"type":"auth.refresh","id":"r","data":{"token":"t"}}`, wantID: "r", check: func(t *testing.T, a engagement.Action) {
			if a != nil {
				t.Fatalf("action = %#v, want none: the client answers auth.refresh itself", a)
			}
		}},
		{name: "missing data is an empty object", in: `{"type":"comment.send","id":"m"}`, wantID: "m", check: func(t *testing.T, a engagement.Action) {
			if c := a.(*engagement.CommentSend); c.Text != "" {
				t.Fatalf("text = %q", c.Text)
			}
		}},
		{name: "not JSON", in: `hello`, code: engagement.CodeBadFrame},
		{name: "truncated", in: `{"type":"comment.send"`, code: engagement.CodeBadFrame},
		{name: "no type", in: `{"id":"x"}`, wantID: "x", code: engagement.CodeBadFrame},
		{name: "type not a string", in: `{"type":7}`, code: engagement.CodeBadFrame},
		{name: "unknown type", in: `{"type":"nuke","id":"u"}`, wantID: "u", code: engagement.CodeUnknownType},
		{name: "data wrong type", in: `{"type":"like.send","id":"w","data":{"count":"many"}}`, wantID: "w", code: engagement.CodeInvalid},
		{name: "data not an object", in: `{"type":"like.send","id":"w","data":[1]}`, wantID: "w", code: engagement.CodeInvalid},
		{name: "id too long", in: `{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, code: engagement.CodeBadFrame},
		{name: "invalid UTF-8", in: "{\"type\":\"comment.send\",\"id\":\"u8\",\"data\":{\"text\":\"\xc3\x28\"}}", wantID: "u8", code: engagement.CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, act, err := DecodeClient([]byte(tt.in))
			if env.ID != tt.wantID {
				t.Errorf("id = %q, want %q", env.ID, tt.wantID)
			}
			if tt.code != "" {
				if engagement.CodeOf(err) != tt.code {
					t.Fatalf("err = %v, want code %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.check != nil {
				tt.check(t, act)
			}
		})
	}
}

func TestEncodeFramesBatchesWithNewlines(t *testing.T) {
	b, err := EncodeFrames([]engagement.Frame{
		{Type: "comment", Data: map[string]string{"text": "line1\nline2"}},
		{Type: "presence", Data: map[string]int{"viewers": 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (a newline inside text must stay escaped): %s", len(lines), b)
	}
	for i, want := range []string{"comment", "presence"} {
		var env Envelope
		if err := json.Unmarshal([]byte(lines[i]), &env); err != nil || env.Type != want {
			t.Fatalf("line %d = %q (%v), want a %s envelope", i, lines[i], err, want)
		}
	}
}

func TestErrorFrameShape(t *testing.T) {
	b := encodeError("x1", engagement.Invalid("text", "text is empty"))
	var env struct {
		Type string         `json:"type"`
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != "error" || env.ID != "x1" || env.Data["id"] != "x1" || env.Data["code"] != "invalid" || env.Data["field"] != "text" || env.Data["message"] != "text is empty" {
		t.Fatalf("error frame = %s", b)
	}
}

// FuzzDecodeClient: any input is either decoded or answered with a stable code; nothing panics, and the
// error frame built from it is always valid JSON.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"comment.send","id":"a","data":{"text":"hi"}}`,
		`{"type":"like.send","data":{"count":50}}`,
		`{"type":"poll.vote","id":"v","data":{"poll_id":"p","option":1}}`,
		`{"type":"ping"}`, `{}`, `[]`, `null`, `"x"`, "\xff", `{"type":"comment.send","data":{"text":1e999}}`,
	} {
		f.Add([]byte(s))
	}
	codes := map[engagement.Code]bool{engagement.CodeBadFrame: true, engagement.CodeUnknownType: true, engagement.CodeInvalid: true}
	f.Fuzz(func(t *testing.T, msg []byte) {
		env, act, err := DecodeClient(msg)
		if err != nil {
			if !codes[engagement.CodeOf(err)] {
				t.Fatalf("unexpected code %s for %q", engagement.CodeOf(err), msg)
			}
			if !json.Valid(encodeError(env.ID, err)) {
				t.Fatalf("error frame for %q is not JSON", msg)
			}
			return
		}
		if env.Type != typePing && act == nil {
			t.Fatalf("no action and no error for %q", msg)
		}
		if !utf8.Valid(msg) {
			t.Fatalf("accepted invalid UTF-8 %q", msg)
		}
	})
}

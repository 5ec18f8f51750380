package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kudos-live/kudos/engagement"
)

// Envelope is one protocol frame: {"type", "id", "data"}. Server messages carry one or more envelopes
// separated by '\n'.
type Envelope struct {
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// maxFrameID bounds the client-chosen id echoed back in acks.
const maxFrameID = 64

// Client frame types the transport answers itself: ping, and auth.refresh {"token"} (a fresh token for the
// socket, whose data the client decodes).
const (
	typePing        = "ping"
	typeAuthRefresh = "auth.refresh"
)

// DecodeClient parses one client message into its envelope and, for an engagement action, the decoded
// action. Errors are *engagement.Error with code bad_frame (not an envelope), unknown_type or invalid (data
// of the wrong shape); the envelope is returned as far as it was read, so the error can echo its id.
func DecodeClient(msg []byte) (Envelope, engagement.Action, error) {
	var env Envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return env, nil, engagement.Errorf(engagement.CodeBadFrame, "frame is not a JSON envelope")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a text frame must be valid UTF-8 (RFC 6455).
	if !utf8.Valid(msg) {
		return env, nil, engagement.Errorf(engagement.CodeBadFrame, "frame is not valid UTF-8")
	}
	if len(env.ID) > maxFrameID {
		env.ID = ""
		return env, nil, engagement.Errorf(engagement.CodeBadFrame, "id is longer than %d bytes", maxFrameID)
	}
	if env.Type == "" {
		return env, nil, engagement.Errorf(engagement.CodeBadFrame, "frame has no type")
	}
	if env.Type == typePing || env.Type == typeAuthRefresh {
		return env, nil, nil
	}
	act, ok := engagement.NewAction(env.Type)
	if !ok {
		return env, nil, engagement.Errorf(engagement.CodeUnknownType, "unknown frame type %q", truncate(env.Type, 40))
	}
	data := env.Data
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, act); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return env, nil, engagement.Invalid(te.Field, "%s must be a %s", fieldName(te.Field), te.Type.Kind())
		}
		return env, nil, engagement.Errorf(engagement.CodeInvalid, "data of %s is not a JSON object", env.Type)
	}
	return env, act, nil
}

func fieldName(f string) string {
	if f == "" {
		return "data"
	}
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// serverFrame is an encoded server envelope.
type serverFrame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Data any    `json:"data,omitempty"`
}

// EncodeFrame encodes one server envelope.
func EncodeFrame(typ string, data any) ([]byte, error) {
	b, err := json.Marshal(serverFrame{Type: typ, Data: data})
	if err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", typ, err)
	}
	return b, nil
}

// EncodeFrames encodes frames into one message, envelopes separated by '\n'.
func EncodeFrames(frames []engagement.Frame) ([]byte, error) {
	var buf bytes.Buffer
	for i, f := range frames {
		if i > 0 {
			buf.WriteByte('\n')
		}
		b, err := EncodeFrame(f.Type, f.Data)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// encodeAck answers a client frame.
func encodeAck(id string, extra map[string]any) []byte {
	data := map[string]any{"id": id}
	for k, v := range extra {
		data[k] = v
	}
	b, _ := json.Marshal(serverFrame{Type: "ack", ID: id, Data: data}) // maps of plain values always encode
	return b
}

// encodeError reports a rejected client frame.
func encodeError(id string, err error) []byte {
	data := map[string]any{"id": id, "code": engagement.CodeOf(err), "message": engagement.MessageOf(err)}
	if f := engagement.FieldOf(err); f != "" {
		data["field"] = f
	}
	b, _ := json.Marshal(serverFrame{Type: "error", ID: id, Data: data})
	return b
}

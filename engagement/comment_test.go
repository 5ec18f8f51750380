package engagement

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		code Code
	}{
		{"plain", "hello", "hello", ""},
		{"trimmed", "  hi there \n", "hi there", ""},
		{"emoji counts as one rune", strings.Repeat("👍", 200), strings.Repeat("👍", 200), ""},
		{"RTL text", "مرحبا بالجميع", "مرحبا بالجميع", ""},
		{"zero-width joiner inside emoji", "👩‍💻 ok", "👩‍💻 ok", ""},
		{"empty", "", "", CodeInvalid},
		{"only spaces", " \t\n ", "", CodeInvalid},
		{"201 runes", strings.Repeat("é", 201), "", CodeInvalid},
		{"invalid UTF-8", "\xff\xfe", "", CodeInvalid},
		{"control character", "bell\x07", "", CodeInvalid},
		{"inner newline allowed", "line1\nline2", "line1\nline2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanText("text", tt.in, MaxCommentRunes)
			if tt.code != "" {
				if CodeOf(err) != tt.code || FieldOf(err) != "text" {
					t.Fatalf("err = %v, want %s on field text", err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestService(t *testing.T) (*Service, *MemorySink, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	sink := NewMemorySink()
	s := New(Config{Now: clk.now, CommentRate: rate.Inf}, NewMemoryStore(), sink)
	host := Actor{User: "host-1", Name: "Host", Role: RoleHost}
	if _, err := s.CreateStream(context.Background(), host, StreamSpec{ID: "s1", Title: "Show"}); err != nil {
		t.Fatal(err)
	}
	return s, sink, clk
}

var (
	testHost   = Actor{User: "host-1", Name: "Host", Role: RoleHost}
	testViewer = Actor{User: "ann", Name: "Ann", Role: RoleViewer}
)

func TestModerationRules(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newTestService(t)
	post := func(a Actor, text string) Code {
		_, err := s.PostComment(ctx, a, "s1", text)
		if err == nil {
			return ""
		}
		return CodeOf(err)
	}
	moderate := func(a ModerationAction) {
		t.Helper()
		if _, err := s.Moderate(ctx, testHost, "s1", a); err != nil {
			t.Fatalf("moderate %+v: %v", a, err)
		}
	}
	if c := post(testViewer, "hello"); c != "" {
		t.Fatalf("plain comment: %s", c)
	}
	moderate(ModerationAction{Action: ModBannedWords, Words: []string{" SCAM ", "fake"}})
	if c := post(testViewer, "this is a Scam!"); c != CodeInvalid {
		t.Fatalf("banned word: got %q, want invalid", c)
	}
	if c := post(testHost, "no scam here, I'm the host"); c != "" {
		t.Fatalf("host comments skip the word filter, got %q", c)
	}
	moderate(ModerationAction{Action: ModSlowMode, Seconds: 10})
	if c := post(testViewer, "first"); c != "" {
		t.Fatalf("first comment in slow mode: %s", c)
	}
	if c := post(testViewer, "second"); c != CodeRateLimited {
		t.Fatalf("second comment within 10 s: got %q, want rate_limited", c)
	}
	clk.advance(10 * time.Second)
	if c := post(testViewer, "third"); c != "" {
		t.Fatalf("comment after the slow-mode wait: %s", c)
	}
	moderate(ModerationAction{Action: ModSlowMode, Seconds: 0})
	moderate(ModerationAction{Action: ModMute, User: "ann", DurationS: 60})
	if c := post(testViewer, "muted?"); c != CodeForbidden {
		t.Fatalf("muted user: got %q, want forbidden", c)
	}
	clk.advance(61 * time.Second)
	if c := post(testViewer, "back"); c != "" {
		t.Fatalf("after mute expired: %s", c)
	}
	moderate(ModerationAction{Action: ModBan, User: "ann"})
	if c := post(testViewer, "banned?"); c != CodeForbidden {
		t.Fatalf("banned user: got %q, want forbidden", c)
	}
	moderate(ModerationAction{Action: ModUnban, User: "ann"})
	if c := post(testViewer, "unbanned"); c != "" {
		t.Fatalf("after unban: %s", c)
	}
}

func TestRemovedCommentLeavesRecent(t *testing.T) {
	ctx := context.Background()
	s, sink, _ := newTestService(t)
	out, err := s.PostComment(ctx, testViewer, "s1", "buy elsewhere cheaper")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Reply["comment_id"].(string)
	rm, err := s.Moderate(ctx, testHost, "s1", ModerationAction{Action: ModRemoveComment, CommentID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Broadcast) != 1 || rm.Broadcast[0].Type != "comment.removed" {
		t.Fatalf("removal outcome = %+v, want one comment.removed", rm.Broadcast)
	}
	recent, err := s.RecentComments(ctx, "s1")
	if err != nil || len(recent) != 0 {
		t.Fatalf("recent after removal = %v, %v; want none", recent, err)
	}
	var types []string
	for _, e := range sink.Events() {
		types = append(types, e.Type)
	}
	want := []string{EventStreamStarted, EventCommentPosted, EventPointsAwarded, EventCommentRemoved}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", types, want)
	}
}

func TestModerationRoles(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	otherHost := Actor{User: "host-2", Role: RoleHost, Stream: "s2"}
	tests := []struct {
		name  string
		actor Actor
		act   ModerationAction
		want  Code
	}{
		{"viewer cannot moderate", testViewer, ModerationAction{Action: ModSlowMode, Seconds: 5}, CodeForbidden},
		{"host of another stream", otherHost, ModerationAction{Action: ModSlowMode, Seconds: 5}, CodeForbidden},
		{"unknown action", testHost, ModerationAction{Action: "explode"}, CodeInvalid},
		{"mute needs a user", testHost, ModerationAction{Action: ModMute, DurationS: 5}, CodeInvalid},
		{"mute needs a duration", testHost, ModerationAction{Action: ModMute, User: "ann"}, CodeInvalid},
		{"slow mode bounds", testHost, ModerationAction{Action: ModSlowMode, Seconds: 99999}, CodeInvalid},
		{"admin may", Actor{User: "root", Role: RoleAdmin}, ModerationAction{Action: ModSlowMode, Seconds: 5}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Moderate(ctx, tt.actor, "s1", tt.act)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if CodeOf(err) != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestEndedStreamRefusesComments(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	if _, _, err := s.EndStream(ctx, testViewer, "s1"); CodeOf(err) != CodeForbidden {
		t.Fatalf("viewer ending stream: %v, want forbidden", err)
	}
	_, out, err := s.EndStream(ctx, testHost, "s1")
	if err != nil || len(out.Broadcast) != 1 || out.Broadcast[0].Type != "stream.ended" {
		t.Fatalf("end: %v %+v", err, out)
	}
	if _, err := s.PostComment(ctx, testViewer, "s1", "hello?"); CodeOf(err) != CodeClosed {
		t.Fatalf("comment on ended stream: %v, want closed", err)
	}
	if _, out, err := s.EndStream(ctx, testHost, "s1"); err != nil || !out.Empty() {
		t.Fatalf("ending twice: %v %+v, want no second broadcast", err, out)
	}
}

func TestLikeRate(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newTestService(t)
	if err := s.Like(ctx, testViewer, "s1", 0); CodeOf(err) != CodeInvalid {
		t.Fatalf("like 0: %v", err)
	}
	if _, err := s.Likes(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		clk.advance(250 * time.Millisecond)
		if err := s.Like(ctx, testViewer, "s1", 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Likes(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Likes(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 40 || got.PerSecond != 40 {
		t.Fatalf("likes = %+v, want total 40 at 40/s", got)
	}
}

func TestStreamSpecValidation(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	big := int64(600000)
	tests := []struct {
		name  string
		spec  StreamSpec
		field string
	}{
		{"bad id", StreamSpec{ID: "Bad ID!", Title: "x"}, "id"},
		{"no title", StreamSpec{ID: "ok"}, "title"},
		{"delay too long", StreamSpec{ID: "ok2", Title: "x", VideoDelayMS: &big}, "video_delay_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateStream(ctx, testHost, tt.spec)
			if CodeOf(err) != CodeInvalid || FieldOf(err) != tt.field {
				t.Fatalf("err = %v (field %q), want invalid on %s", err, FieldOf(err), tt.field)
			}
		})
	}
	if _, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "again"}); CodeOf(err) != CodeDuplicate {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.CreateStream(ctx, testViewer, StreamSpec{Title: "mine"}); CodeOf(err) != CodeForbidden {
		t.Fatalf("viewer creating: %v", err)
	}
}

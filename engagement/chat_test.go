package engagement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
	clk.Advance(10 * time.Second)
	if c := post(testViewer, "third"); c != "" {
		t.Fatalf("comment after the slow-mode wait: %s", c)
	}
	moderate(ModerationAction{Action: ModSlowMode, Seconds: 0})
	moderate(ModerationAction{Action: ModMute, User: "ann", DurationS: 60})
	if c := post(testViewer, "muted?"); c != CodeForbidden {
		t.Fatalf("muted user: got %q, want forbidden", c)
	}
	clk.Advance(61 * time.Second)
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

func testComment(i int) Comment {
	return Comment{ID: fmt.Sprintf("c%d", i), User: "u1", Name: "Ann", Text: fmt.Sprintf("hello %d", i), At: conformanceT0.Add(time.Duration(i) * time.Second)}
}

func commentIDs(cs []Comment) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testRecentComments(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.AddComment(ctx, "s1", testComment(i), 3); err != nil {
			t.Fatalf("AddComment: %v", err)
		}
	}
	if err := s.AddComment(ctx, "s2", testComment(9), 3); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	tests := []struct {
		stream string
		n      int
		want   []string
	}{
		{"s1", 10, []string{"c2", "c3", "c4"}},
		{"s1", 3, []string{"c2", "c3", "c4"}},
		{"s1", 2, []string{"c3", "c4"}},
		{"s1", 0, []string{}},
		{"s2", 10, []string{"c9"}},
		{"empty", 10, []string{}},
	}
	for _, tt := range tests {
		got, err := s.RecentComments(ctx, tt.stream, tt.n)
		if err != nil {
			t.Fatalf("RecentComments(%s, %d): %v", tt.stream, tt.n, err)
		}
		if ids := commentIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("RecentComments(%s, %d) = %v, want %v", tt.stream, tt.n, ids, tt.want)
		}
	}
	got, err := s.RecentComments(ctx, "s1", 1)
	if err != nil {
		t.Fatalf("RecentComments: %v", err)
	}
	if len(got) == 1 {
		sameJSON(t, "comment", got[0], testComment(4))
	}
}

func testRemoveComment(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 4 {
		if err := s.AddComment(ctx, "s1", testComment(i), 10); err != nil {
			t.Fatalf("AddComment: %v", err)
		}
	}
	tests := []struct {
		stream, id string
		want       bool
		left       []string
	}{
		{"s1", "c1", true, []string{"c0", "c2", "c3"}},
		{"s1", "c1", false, []string{"c0", "c2", "c3"}}, // twice is not an error
		{"s1", "nope", false, []string{"c0", "c2", "c3"}},
		{"s2", "c0", false, []string{"c0", "c2", "c3"}}, // another stream's id space
		{"s1", "c3", true, []string{"c0", "c2"}},
		{"s1", "c0", true, []string{"c2"}},
	}
	for _, tt := range tests {
		got, err := s.RemoveComment(ctx, tt.stream, tt.id)
		if err != nil {
			t.Fatalf("RemoveComment(%s, %s): %v", tt.stream, tt.id, err)
		}
		if got != tt.want {
			t.Errorf("RemoveComment(%s, %s) = %v, want %v", tt.stream, tt.id, got, tt.want)
		}
		cs, err := s.RecentComments(ctx, "s1", 10)
		if err != nil {
			t.Fatalf("RecentComments: %v", err)
		}
		if ids := commentIDs(cs); !slices.Equal(ids, tt.left) {
			t.Errorf("after RemoveComment(%s, %s) recent = %v, want %v", tt.stream, tt.id, ids, tt.left)
		}
	}
}

func testModeration(t *testing.T, s Store) {
	ctx := context.Background()
	got, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "unset moderation", got, Moderation{})

	until := conformanceT0.Add(10 * time.Minute)
	want := Moderation{SlowModeS: 30, BannedWords: []string{"spam"}, Muted: map[string]time.Time{"u2": until}, Banned: map[string]bool{"u3": true}}
	got, err = s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
		m.SlowModeS = 30
		m.BannedWords = append(m.BannedWords, "spam")
		m.Muted = map[string]time.Time{"u2": until}
		m.Banned = map[string]bool{"u3": true}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateModeration: %v", err)
	}
	sameJSON(t, "returned moderation", got, want)
	got.Banned["u9"] = true // the caller's copy; the store must not see this
	got.BannedWords[0] = "changed"

	stored, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "stored moderation", stored, want)

	_, err = s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
		m.SlowModeS = 99
		m.Banned["u4"] = true
		return errFromFn
	})
	if err != errFromFn {
		t.Errorf("UpdateModeration with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "moderation after failing fn", stored, want)

	other, err := s.Moderation(ctx, "s2")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "another stream's moderation", other, Moderation{})
}

// testUpdateModerationConcurrent checks that concurrent bans of different users are all kept.
func testUpdateModerationConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, each = 5, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				user := fmt.Sprintf("u%d-%d", w, i)
				_, err := s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
					if m.Banned == nil {
						m.Banned = map[string]bool{}
					}
					m.Banned[user] = true
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateModeration: %v", err)
	}
	got, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	if len(got.Banned) != writers*each {
		t.Errorf("after %d concurrent bans %d users are banned", writers*each, len(got.Banned))
	}
}

func testTakeSlot(t *testing.T, s Store) {
	ctx := context.Background()
	const every = 5 * time.Second
	tests := []struct {
		name         string
		stream, user string
		at           time.Duration // after conformanceT0
		ok           bool
		left         time.Duration
	}{
		{"first slot", "s1", "u1", 0, true, 0},
		{"too soon", "s1", "u1", 1500 * time.Millisecond, false, 3500 * time.Millisecond},
		{"other user", "s1", "u2", 1500 * time.Millisecond, true, 0},
		{"other stream", "s2", "u1", 1500 * time.Millisecond, true, 0},
		{"just before the gap", "s1", "u1", every - time.Millisecond, false, time.Millisecond},
		{"after the gap", "s1", "u1", every, true, 0},
		{"gap counts from the new slot", "s1", "u1", every + 2*time.Second, false, 3 * time.Second},
	}
	for _, tt := range tests {
		ok, left, err := s.TakeSlot(ctx, tt.stream, tt.user, every, conformanceT0.Add(tt.at))
		if err != nil {
			t.Fatalf("%s: TakeSlot: %v", tt.name, err)
		}
		if ok != tt.ok || left != tt.left {
			t.Errorf("%s: TakeSlot = %v, %v; want %v, %v", tt.name, ok, left, tt.ok, tt.left)
		}
	}
}

// chatStoreSuite is ChatStore's part of the Store conformance suite (runStoreSuite).
var chatStoreSuite = []storeCase{
	{"RecentComments", testRecentComments},
	{"RemoveComment", testRemoveComment},
	{"Moderation", testModeration},
	{"UpdateModerationConcurrent", testUpdateModerationConcurrent},
	{"TakeSlot", testTakeSlot},
}

// chatAgedSuite is ChatStore's part of the suite's lifetime cases (runStoreSuite).
var chatAgedSuite = []agedCase{
	{"Lifetime", testChatLifetime},
}

// testChatLifetime: a stream's comments and removals live StreamTTL after their last write; its moderation
// (bans) lives Retention after its last change, so a ban holds for as long as the stream can be taken part in.
func testChatLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	noErr(t, s.AddComment(ctx, "s1", testComment(1), 10))
	noErr(t, s.AddComment(ctx, "s1", testComment(2), 10))
	_, err := s.RemoveComment(ctx, "s1", "c2")
	noErr(t, err)
	_, err = s.UpdateModeration(ctx, "s1", func(m *Moderation) error { m.SlowModeS = 5; return nil })
	noErr(t, err)
	ok, _, err := s.TakeSlot(ctx, "s1", "u1", 30*time.Second, conformanceT0)
	noErr(t, err)
	if !ok {
		t.Fatal("first slot refused")
	}
	age(DefaultStreamTTL)
	noErr(t, s.AddComment(ctx, "s2", testComment(3), 10))
	cs, err := s.RecentComments(ctx, "s1", 10)
	noErr(t, err)
	mod, err := s.Moderation(ctx, "s1")
	noErr(t, err)
	if len(cs) != 0 || mod.SlowModeS != 5 {
		t.Fatalf("after StreamTTL: comments %v, moderation %+v; want no comments, the moderation kept", commentIDs(cs), mod)
	}
	cs, err = s.RecentComments(ctx, "s2", 10)
	noErr(t, err)
	if !slices.Equal(commentIDs(cs), []string{"c3"}) {
		t.Fatalf("the other stream's comments: %v, want [c3]", commentIDs(cs))
	}
	age(DefaultRetention - DefaultStreamTTL)
	noErr(t, s.AddComment(ctx, "s2", testComment(4), 10))
	if mod, err = s.Moderation(ctx, "s1"); err != nil || mod.SlowModeS != 0 {
		t.Fatalf("after Retention: moderation %+v, %v; want none", mod, err)
	}
}

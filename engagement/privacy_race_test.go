package engagement

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"golang.org/x/time/rate"
)

// eraseDuringWrite runs erase once, just before the next comment or question is written: the erasure lands
// between the participation policy's check and the write.
type eraseDuringWrite struct {
	Store
	erase func()
}

func (w *eraseDuringWrite) run() {
	if f := w.erase; f != nil {
		w.erase = nil
		f()
	}
}

func (w *eraseDuringWrite) AddComment(ctx context.Context, stream string, c Comment, max int) error {
	w.run()
	return w.Store.AddComment(ctx, stream, c, max)
}

func (w *eraseDuringWrite) AddQuestion(ctx context.Context, stream string, q Question, max int) error {
	w.run()
	return w.Store.AddQuestion(ctx, stream, q, max)
}

// TestErasureDuringAWrite: a comment or a question written while the person is being erased is taken back and
// refused: nothing of its text stays in the recent comments, the Q&A or the replay, on memory and Redis.
func TestErasureDuringAWrite(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore() },
		"redis":  newTestRedisStore,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := &eraseDuringWrite{Store: newStore(t)}
			svc := New(Config{CommentRate: rate.Inf}, w, NewMemorySink())
			if _, err := svc.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"}); err != nil {
				t.Fatal(err)
			}
			ann := Actor{User: "ann", Name: "Ann Lee", Role: RoleViewer}
			if _, err := svc.Join(ctx, ann, "s1"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.PostComment(ctx, ann, "s1", "before the erasure"); err != nil {
				t.Fatal(err)
			}
			bob := Actor{User: "bob", Name: "Bob Wu", Role: RoleViewer}
			if _, err := svc.Join(ctx, bob, "s1"); err != nil {
				t.Fatal(err)
			}
			erase := func(user string) func() {
				return func() {
					if _, _, err := svc.EraseUser(ctx, Actor{User: "root", Role: RoleAdmin}, user); err != nil {
						t.Errorf("erase %s: %v", user, err)
					}
				}
			}
			w.erase = erase("ann")
			_, err := svc.PostComment(ctx, ann, "s1", "written while erased")
			wantHostCode(t, err, CodeForbidden)
			w.erase = erase("bob")
			_, _, err = svc.AskQuestion(ctx, bob, "s1", "asked while erased?")
			wantHostCode(t, err, CodeForbidden)

			comments, err := w.RecentComments(ctx, "s1", 50)
			noErr(t, err)
			questions, err := w.Questions(ctx, "s1")
			noErr(t, err)
			items, err := w.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10_000)
			noErr(t, err)
			blob, _ := json.Marshal([]any{comments, questions, items})
			for _, text := range []string{"before the erasure", "written while erased", "Ann Lee", "asked while erased", "Bob Wu"} {
				if strings.Contains(string(blob), text) {
					t.Errorf("%q is still stored after the erasure: %s", text, blob)
				}
			}
		})
	}
}

package engagement

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDrawSpecInvalid(t *testing.T) {
	tests := []struct {
		name  string
		spec  DrawSpec
		field string
	}{
		{"no prize", DrawSpec{Winners: 1}, "prize"},
		{"no winners", DrawSpec{Prize: "Phone", Winners: 0}, "winners"},
		{"too many winners", DrawSpec{Prize: "Phone", Winners: 101}, "winners"},
		{"unknown eligibility", DrawSpec{Prize: "Phone", Winners: 1, Eligible: "vips"}, "eligible"},
		{"keyword missing", DrawSpec{Prize: "Phone", Winners: 1, Eligible: DrawKeyword}, "keyword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFixture(t, 0)
			_, _, err := f.svc.OpenDraw(context.Background(), f.host1, "s1", tt.spec)
			if !isInvalidField(err, tt.field) {
				t.Fatalf("err = %#v, want invalid with field %q", err, tt.field)
			}
		})
	}
}

func TestDrawVerifiable(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	d, out, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Headphones", Winners: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d.Eligible != DrawAll || len(d.Commitment) != 64 || len(framesOf(out.Broadcast, "draw.opened")) != 1 {
		t.Fatalf("draw = %+v, outcome %+v", d, out)
	}
	for i := range 20 {
		if _, err := f.svc.EnterDraw(ctx, viewer(fmt.Sprintf("u%02d", i)), "s1", d.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.svc.EnterDraw(ctx, viewer("u03"), "s1", d.ID)
	wantHostCode(t, err, CodeDuplicate)

	res, out, err := f.svc.RunDraw(ctx, f.host1, "s1", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(framesOf(out.Broadcast, "draw.result")) != 1 || len(res.Winners) != 3 || len(res.Entrants) != 20 {
		t.Fatalf("result = %+v, outcome %+v", res, out)
	}
	seed, err := hex.DecodeString(res.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(seed); hex.EncodeToString(sum[:]) != d.Commitment || res.Commitment != d.Commitment {
		t.Fatalf("seed %s does not match commitment %s", res.Seed, d.Commitment)
	}
	shuffled := slices.Clone(res.Entrants)
	slices.Reverse(shuffled) // the order entrants are given in must not matter
	got, err := VerifyDraw(res.Seed, shuffled, 3)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, w := range res.Winners {
		want = append(want, w.User)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("VerifyDraw = %v, published winners %v", got, want)
	}
	if n := len(f.eventsOf(EventDrawWon)); n != 3 {
		t.Fatalf("%d draw.won events, want 3", n)
	}
	// The entrant list frozen at the close is published with its hash, everywhere the result is.
	if res.EntrantsHash != DrawEntrantsHash(res.Entrants) || len(res.EntrantsHash) != 64 {
		t.Fatalf("entrants hash %q, want DrawEntrantsHash of the published list", res.EntrantsHash)
	}
	for _, e := range f.eventsOf(EventDrawWon) {
		if h := eventData(t, e)["entrants_hash"]; h != res.EntrantsHash {
			t.Fatalf("draw.won entrants_hash %v, want %s", h, res.EntrantsHash)
		}
	}
	frame, err := json.Marshal(framesOf(out.Broadcast, "draw.result")[0].Data)
	if err != nil || !strings.Contains(string(frame), `"entrants_hash":"`+res.EntrantsHash+`"`) {
		t.Fatalf("draw.result frame %s, want entrants_hash %s", frame, res.EntrantsHash)
	}
	if got, err := f.svc.Draw(ctx, "s1", d.ID); err != nil || got.Result == nil || got.Result.EntrantsHash != res.EntrantsHash {
		t.Fatalf("the draw read back = %+v, %v; want its result with the entrants hash", got, err)
	}
	_, err = f.svc.EnterDraw(ctx, viewer("late"), "s1", d.ID)
	wantHostCode(t, err, CodeClosed)
	again, out, err := f.svc.RunDraw(ctx, f.host1, "s1", d.ID)
	if err != nil || !out.Empty() || !slices.Equal(again.Winners, res.Winners) || again.Seed != res.Seed {
		t.Fatalf("second run = %+v %+v %v", again, out, err)
	}
}

func TestVerifyDraw(t *testing.T) {
	seed := hex.EncodeToString(make([]byte, DrawSeedBytes))
	tests := []struct {
		name     string
		seed     string
		entrants []string
		n        int
		want     int
		wantErr  bool
	}{
		{"more winners than entrants", seed, []string{"a", "b"}, 5, 2, false},
		{"duplicates count once", seed, []string{"a", "a", "b"}, 5, 2, false},
		{"nobody entered", seed, nil, 3, 0, false},
		{"bad hex", "zz", []string{"a"}, 1, 0, true},
		{"short seed", "abcd", []string{"a"}, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyDraw(tt.seed, tt.entrants, tt.n)
			if (err != nil) != tt.wantErr || len(got) != tt.want {
				t.Fatalf("VerifyDraw = %v, %v", got, err)
			}
		})
	}
	// every entrant can win: over many seeds each of 4 entrants is drawn first at least once
	first := map[string]bool{}
	for i := range 64 {
		s := sha256.Sum256([]byte{byte(i)})
		got, _ := VerifyDraw(hex.EncodeToString(s[:]), []string{"a", "b", "c", "d"}, 1)
		first[got[0]] = true
	}
	if len(first) != 4 {
		t.Fatalf("first winners over 64 seeds: %v", first)
	}
}

// TestDrawWinnersCommitToTheEntrantList: the shuffle is keyed by the seed and the hash of the entrant list,
// so that the winners follow from exactly the published list (docs/draws.md). The hash is unambiguous: it
// does not depend on the order the entrants come in or on duplicates, and no two lists share an encoding.
func TestDrawWinnersCommitToTheEntrantList(t *testing.T) {
	// The list hash of the worked example, and SHA-256 of nothing for nobody.
	if got := DrawEntrantsHash([]string{"erin", "alice", "dave", "bob", "carol"}); got != "942d1e84e01f7a91d9953136ec7f3ee9ef31b8738dc1796c09f087f0e84fc2a3" {
		t.Fatalf("DrawEntrantsHash = %s", got)
	}
	if got := DrawEntrantsHash(nil); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("DrawEntrantsHash(nil) = %s", got)
	}
	if DrawEntrantsHash([]string{"b", "a", "b"}) != DrawEntrantsHash([]string{"a", "b"}) {
		t.Fatal("order or duplicates change the hash")
	}
	if DrawEntrantsHash([]string{"ab", "c"}) == DrawEntrantsHash([]string{"a", "bc"}) {
		t.Fatal("two lists share an encoding")
	}

	// The key is HMAC-SHA256(seed, list hash): the first pick of the example is SHA-256(key || 0) mod 5.
	seed := make([]byte, DrawSeedBytes)
	for i := range seed {
		seed[i] = byte(i)
	}
	list := []string{"alice", "bob", "carol", "dave", "erin"}
	listHash, _ := hex.DecodeString(DrawEntrantsHash(list))
	mac := hmac.New(sha256.New, seed)
	mac.Write(listHash)
	first := sha256.Sum256(append(mac.Sum(nil), 0, 0, 0, 0, 0, 0, 0, 0))
	j := binary.BigEndian.Uint64(first[:8]) % 5
	got, err := VerifyDraw(hex.EncodeToString(seed), list, 1)
	if err != nil || len(got) != 1 || got[0] != list[j] {
		t.Fatalf("VerifyDraw first winner %v, %v; want %s, the pick of the key from seed and list hash", got, err, list[j])
	}
}

func TestDrawEligibility(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Vote(ctx, viewer("voter"), "s1", p.ID, 0); err != nil {
		t.Fatal(err)
	}
	f.svc.noteComment(ctx, viewer("chatty"), "s1", "hello")

	voters, _, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Mug", Winners: 1, Eligible: DrawVoters})
	if err != nil {
		t.Fatal(err)
	}
	commenters, _, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Cap", Winners: 1, Eligible: DrawCommenters})
	if err != nil {
		t.Fatal(err)
	}
	keyword, _, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Bag", Winners: 1, Eligible: DrawKeyword, Keyword: "LuckyMe"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.noteComment(ctx, viewer("kw"), "s1", "pick me, luckyme!")
	f.svc.noteComment(ctx, viewer("other"), "s1", "nice bag")

	tests := []struct {
		user string
		draw string
		code Code
	}{
		{"voter", voters.ID, ""},
		{"chatty", voters.ID, CodeForbidden},
		{"chatty", commenters.ID, ""},
		{"voter", commenters.ID, CodeForbidden},
		{"kw", keyword.ID, CodeDuplicate}, // already entered by the comment
		{"other", keyword.ID, CodeForbidden},
		{"voter", "missing", CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.draw, func(t *testing.T) {
			_, err := f.svc.EnterDraw(ctx, viewer(tt.user), "s1", tt.draw)
			wantHostCode(t, err, tt.code)
		})
	}
	res, _, err := f.svc.RunDraw(ctx, f.host1, "s1", keyword.ID)
	if err != nil || len(res.Winners) != 1 || res.Winners[0].User != "kw" || res.Winners[0].Name != "Viewer kw" {
		t.Fatalf("keyword draw result = %+v, %v", res, err)
	}
}

func testDrawStore(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	_, err := s.CurrentDraw(ctx, "st")
	isErr(t, err, ErrNotFound)
	d := Draw{ID: "d1", Prize: "P", Winners: 2, Eligible: DrawAll, Commitment: "c0ffee", Status: DrawOpen, OpensAt: t0, Seed: "5eed"}
	noErr(t, s.CreateDraw(ctx, "st", d))
	isErr(t, s.CreateDraw(ctx, "st", d), ErrDuplicate)
	got, err := s.Draw(ctx, "st", "d1")
	noErr(t, err)
	if got.Seed != "5eed" || got.Commitment != "c0ffee" || got.Winners != 2 {
		t.Fatalf("draw = %+v (the seed must be stored)", got)
	}
	isErr(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "zed"}, t0.Add(-time.Second)), ErrClosed)
	for _, u := range []string{"zed", "amy", "bob"} {
		noErr(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: u, Name: "N" + u}, t0))
	}
	isErr(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "amy"}, t0), ErrDuplicate)
	isErr(t, s.EnterDraw(ctx, "st", "d9", DrawEntrant{User: "amy"}, t0), ErrNotFound)
	es, err := s.DrawEntrants(ctx, "st", "d1")
	noErr(t, err)
	if want := []DrawEntrant{{"amy", "Namy"}, {"bob", "Nbob"}, {"zed", "Nzed"}}; !slices.Equal(es, want) {
		t.Fatalf("entrants = %+v, want %+v", es, want)
	}
	res := &DrawResult{ID: "d1", Prize: "P", Winners: []DrawEntrant{{"bob", "Nbob"}}, Seed: "5eed", Commitment: "c0ffee", Entrants: []string{"amy", "bob", "zed"},
		EntrantsHash: DrawEntrantsHash([]string{"amy", "bob", "zed"})}
	_, err = s.UpdateDraw(ctx, "st", "d1", func(d *Draw) error { d.Status, d.Result = DrawDone, res; return nil })
	noErr(t, err)
	isErr(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "cy"}, t0), ErrClosed)
	got, err = s.Draw(ctx, "st", "d1")
	noErr(t, err)
	if got.Status != DrawDone || got.Result == nil || !slices.Equal(got.Result.Winners, res.Winners) || !slices.Equal(got.Result.Entrants, res.Entrants) ||
		got.Result.EntrantsHash != res.EntrantsHash {
		t.Fatalf("done draw = %+v", got)
	}
	noErr(t, s.CreateDraw(ctx, "st", Draw{ID: "d2", Prize: "Q", Winners: 1, Eligible: DrawKeyword, Keyword: "go", Status: DrawOpen, OpensAt: t0, Seed: "5eed"}))
	if cur, err := s.CurrentDraw(ctx, "st"); err != nil || cur.ID != "d2" || cur.Keyword != "go" {
		t.Fatalf("current draw = %+v, %v", cur, err)
	}
}

func testDrawStoreCommenters(t *testing.T, s Store) {
	ctx := context.Background()
	if c, err := s.HasCommented(ctx, "st", "u1"); err != nil || c {
		t.Fatalf("HasCommented before = %v, %v", c, err)
	}
	noErr(t, s.MarkCommenter(ctx, "st", "u1"))
	noErr(t, s.MarkCommenter(ctx, "st", "u1"))
	if c, _ := s.HasCommented(ctx, "st", "u1"); !c {
		t.Fatal("HasCommented after MarkCommenter is false")
	}
	if c, _ := s.HasCommented(ctx, "other", "u1"); c {
		t.Fatal("commenter leaked to another stream")
	}
}

// drawStoreSuite is DrawStore's part of the Store conformance suite (runStoreSuite).
var drawStoreSuite = []storeCase{
	{"CreateEnter", testDrawStore},
	{"Commenters", testDrawStoreCommenters},
}

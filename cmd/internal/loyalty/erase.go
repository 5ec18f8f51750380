package loyalty

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Erasure (kudos.user.erased, docs/privacy.md "Downstream: the sample consumer").
//
// When a user is erased, the Aggregator forgets their id: every per-user entry it holds (activity days,
// tier, A/B arm, the streams they viewed, watched, rated, clicked, the orders they made) moves to an
// anonymous key that no report shows, so the counts already made (viewers, participants, NPS, retention
// cohorts, tiers, segments, GMV) stay the same and consistent with each other, and the rows that name a user
// (churn risk, churn warnings) no longer have them. The Aggregator holds no name or text of anyone (it reads
// none from the events), so the id is all there is to forget.
//
// To stay independent of delivery order, an event of the erased user delivered after the erasure (a late
// or re-read event published before it) is folded under the same anonymous key: the Aggregator keeps a
// SHA-256 digest of each erased id, never the id, to recognise them.

// anonPrefix starts every anonymous key; a NUL byte is in no user id Kudos accepts.
const anonPrefix = "\x00erased:"

// anonymous reports whether key is the anonymous key of an erased user.
func anonymous(key string) bool { return strings.HasPrefix(key, anonPrefix) }

// erasedDigest is what the Aggregator and the BalanceFold remember of an erased id.
func erasedDigest(user string) string {
	h := sha256.Sum256([]byte(user))
	return hex.EncodeToString(h[:])
}

// alias is the key the Aggregator files user's events under: their anonymous key once they are erased.
func (a *Aggregator) alias(user string) string {
	if user == "" || len(a.erased) == 0 {
		return user
	}
	if anon, ok := a.erased[erasedDigest(user)]; ok {
		return anon
	}
	return user
}

// erase moves everything filed under user to a fresh anonymous key (idempotent).
func (a *Aggregator) erase(user string) {
	if user == "" || anonymous(user) {
		return
	}
	digest := erasedDigest(user)
	if _, ok := a.erased[digest]; ok {
		return
	}
	if a.erased == nil {
		a.erased = make(map[string]string)
	}
	anon := anonPrefix + strconv.Itoa(len(a.erased)+1)
	a.erased[digest] = anon

	rekey(a.users, user, anon)
	for _, s := range a.streams {
		rekey(s.viewers, user, anon)
		rekey(s.staff, user, anon)
		rekey(s.interacted, user, anon)
		rekey(s.watch, user, anon)
		rekey(s.nps, user, anon)
		rekey(s.ratings, user, anon)
		rekey(s.clicked, user, anon)
	}
	for _, p := range a.products {
		rekey(p.firstClick, user, anon)
	}
	for _, o := range a.orders {
		if o.user == user {
			o.user = anon
		}
	}
}

// rekey moves m[from] to m[to]; to is a fresh key, so nothing is merged.
func rekey[V any](m map[string]V, from, to string) {
	if v, ok := m[from]; ok {
		delete(m, from)
		m[to] = v
	}
}

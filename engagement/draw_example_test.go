package engagement_test

import (
	"encoding/hex"
	"fmt"
	"github.com/kudos-live/kudos/engagement"
)

// A viewer checks a published draw.result: the seed must hash to the commitment published when the draw
// opened, the entrant list must hash to the published entrants_hash, and the seed with that list must give
// the winners (the worked example of docs/draws.md).
func ExampleVerifyDraw() {
	seedHex := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	entrants := []string{"erin", "alice", "dave", "bob", "carol"}

	seed, _ := hex.DecodeString(seedHex)
	fmt.Println("commitment:", engagement.DrawCommitment(seed))
	fmt.Println("entrants hash:", engagement.DrawEntrantsHash(entrants))
	winners, err := engagement.VerifyDraw(seedHex, entrants, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("winners:", winners)
	// Output:
	// commitment: 630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd
	// entrants hash: 942d1e84e01f7a91d9953136ec7f3ee9ef31b8738dc1796c09f087f0e84fc2a3
	// winners: [carol dave]
}

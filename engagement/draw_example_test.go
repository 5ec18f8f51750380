package engagement_test

import (
	"encoding/hex"
	"fmt"

	"github.com/kudos-live/kudos/engagement"
)

// A viewer checks a published draw.result: the seed must hash to the commitment published when the draw
// opened, and the seed with the entrants must give the winners (the worked example of docs/draws.md).
func ExampleVerifyDraw() {
	seedHex := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	entrants := []string{"erin", "alice", "dave", "bob", "carol"}

	seed, _ := hex.DecodeString(seedHex)
	fmt.Println("commitment:", engagement.DrawCommitment(seed))
	winners, err := engagement.VerifyDraw(seedHex, entrants, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("winners:", winners)
	// Output:
	// commitment: 630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd
	// winners: [bob alice]
}

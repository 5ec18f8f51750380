package rewards_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

func Example() {
	now := time.Date(2026, time.May, 20, 12, 0, 0, 0, time.UTC)
	ledger, err := rewards.NewLedger(nil, rewards.Config{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// A correct quiz answer: participation points, idempotent by key.
	res, _ := ledger.Award(ctx, rewards.Award{Key: "quiz:q1:7:ann", User: "ann", Stream: "live-1",
		Source: "quiz", Points: 95, Participation: true})
	fmt.Println("granted", res.Granted, "balance", res.Balance, "tier", res.Tier)

	// The same key again changes nothing.
	res, _ = ledger.Award(ctx, rewards.Award{Key: "quiz:q1:7:ann", User: "ann", Points: 95})
	fmt.Println("applied", res.Applied)

	// A purchase of ¥123.45 is pending for the return window.
	_, _ = ledger.Award(ctx, rewards.Award{Key: "order:A1", User: "ann", Stream: "live-1",
		Source: "purchase", Points: 123, Pending: true})
	acct, _ := ledger.Account(ctx, "ann")
	fmt.Println("balance", acct.Balance, "pending", acct.Pending, "earned this month", acct.EarnedThisMonth)

	// Eight days later it has settled.
	now = now.Add(8 * 24 * time.Hour)
	acct, _ = ledger.Account(ctx, "ann")
	fmt.Println("balance", acct.Balance, "pending", acct.Pending)

	_, err = ledger.Redeem(ctx, "ann", "free-shipping", "req-1")
	fmt.Println(errors.Is(err, rewards.ErrInsufficientPoints))

	_, _ = ledger.Award(ctx, rewards.Award{Key: "watch:live-2:ann", User: "ann", Stream: "live-2",
		Source: "watch", Points: 100, Participation: true})
	red, _ := ledger.Redeem(ctx, "ann", "free-shipping", "req-1")
	fmt.Println("redeemed", red.RewardID, "balance", red.Balance)
	red, _ = ledger.Redeem(ctx, "ann", "free-shipping", "req-1")
	fmt.Println("replayed", red.Replayed, "balance", red.Balance)

	// The stream's leaderboard ranks participation points only: purchases would reveal spending.
	board, _ := ledger.Leaderboard(ctx, "live-1", 3)
	fmt.Printf("%+v\n", board)
	// Output:
	// granted 95 balance 95 tier bronze
	// applied false
	// balance 95 pending 123 earned this month 218
	// balance 218 pending 0
	// true
	// redeemed free-shipping balance 18
	// replayed true balance 18
	// [{User:ann Points:95 Rank:1}]
}

package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

func (a *API) recordPurchase(c echo.Context) error {
	// engagement.Purchase's fields, with paid_at read as text so that a bad time is a problem about paid_at.
	var req struct {
		OrderID   string                `json:"order_id"`
		UserID    string                `json:"user_id"`
		StreamID  string                `json:"stream_id"`
		AmountFen int64                 `json:"amount_fen"`
		PaidAt    string                `json:"paid_at"`
		Items     []engagement.SaleItem `json:"items"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	p := engagement.Purchase{OrderID: req.OrderID, UserID: req.UserID, StreamID: req.StreamID, AmountFen: req.AmountFen, Items: req.Items}
	if req.PaidAt != "" {
		at, err := time.Parse(time.RFC3339, req.PaidAt)
		if err != nil {
			return engagement.Invalid("paid_at", "paid_at must be an RFC 3339 time, such as 2026-03-14T19:55:00+08:00")
		}
		p.PaidAt = at
	}
	res, out, err := a.svc.RecordPurchase(c.Request().Context(), actorOf(c), p)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(createdOrReplayed(res.Replayed), res)
}

// refundPurchase refunds an order: with no body (or {}) what is left of it, with {"refund_id", "amount_fen"}
// or {"refund_id", "items"} a part of it.
func (a *API) refundPurchase(c echo.Context) error {
	var req engagement.Refund
	if c.Request().ContentLength != 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	res, err := a.svc.RefundPurchase(c.Request().Context(), actorOf(c), c.Param("order_id"), req)
	if err != nil {
		return err
	}
	body := map[string]any{
		"order_id": c.Param("order_id"), "user_id": res.User, "cancelled": res.Cancelled, "reversed": res.Reversed,
		"shortfall": res.Shortfall, "balance": res.Balance, "full": res.Full, "replayed": res.Replayed,
	}
	if res.Total > 0 {
		body["amount_fen"], body["refunded_fen"], body["total_fen"] = res.Amount, res.Refunded, res.Total
	}
	if req.RefundID != "" {
		body["refund_id"] = req.RefundID
	}
	return c.JSON(http.StatusOK, body)
}

func (a *API) userPoints(c echo.Context) error {
	acc, err := a.svc.Account(c.Request().Context(), actorOf(c), c.Param("uid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, acc)
}

func (a *API) listRewards(c echo.Context) error {
	rs, err := a.svc.Rewards(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"rewards": rs})
}

func (a *API) redeem(c echo.Context) error {
	var req struct {
		RewardID  string `json:"reward_id"`
		RequestID string `json:"request_id"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	r, err := a.svc.Redeem(c.Request().Context(), actorOf(c), c.Param("uid"), req.RewardID, req.RequestID)
	if err != nil {
		return err
	}
	return c.JSON(createdOrReplayed(r.Replayed), r)
}

func (a *API) leaderboard(c echo.Context) error {
	n := 10
	if v := c.QueryParam("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			return engagement.Invalid("n", "n must be 1..100")
		}
	}
	top, err := a.svc.Leaderboard(c.Request().Context(), c.Param("id"), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"stream": c.Param("id"), "top": top})
}

// awardShopPoints pays points the shop awards (a review, a share): 201 the first time, 200 with the same body
// on a retry of the key.
func (a *API) awardShopPoints(c echo.Context) error {
	var req engagement.ShopAward
	if err := bind(c, &req); err != nil {
		return err
	}
	res, out, err := a.svc.AwardShopPoints(c.Request().Context(), actorOf(c), req)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(createdOrReplayed(res.Replayed), res)
}

// createdOrReplayed is the status of a write that is idempotent by its key: 201 the first time, 200 for a
// retry answered with the first result.
func createdOrReplayed(replayed bool) int {
	if replayed {
		return http.StatusOK
	}
	return http.StatusCreated
}

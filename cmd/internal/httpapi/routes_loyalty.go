package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

func (a *API) recordPurchase(c echo.Context) error {
	var p engagement.Purchase
	if err := bind(c, &p); err != nil {
		return err
	}
	res, out, err := a.svc.RecordPurchase(c.Request().Context(), actorOf(c), p)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	status := http.StatusCreated
	if res.Replayed {
		status = http.StatusOK
	}
	return c.JSON(status, res)
}

func (a *API) refundPurchase(c echo.Context) error {
	res, err := a.svc.RefundPurchase(c.Request().Context(), actorOf(c), c.Param("order_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"order_id": c.Param("order_id"), "user_id": res.User, "cancelled": res.Cancelled, "reversed": res.Reversed,
		"shortfall": res.Shortfall, "balance": res.Balance,
	})
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
	status := http.StatusCreated
	if r.Replayed {
		status = http.StatusOK
	}
	return c.JSON(status, r)
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

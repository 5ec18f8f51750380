package httpapi

import (
	"net/http"

	"github.com/kudos-live/kudos/rewards"
	"github.com/labstack/echo/v4"
)

// putCatalogue replaces the points store's catalogue (the shop's backend or an admin) and answers with it as
// GET /api/v1/rewards lists it.
func (a *API) putCatalogue(c echo.Context) error {
	var req struct {
		Items []rewards.Reward `json:"items"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	rs, err := a.svc.SetCatalogue(c.Request().Context(), actorOf(c), req.Items)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"rewards": rs})
}

// fulfilRedemption marks a gift redemption fulfilled by its claim id: 200 the first time and every time after,
// with the same body.
func (a *API) fulfilRedemption(c echo.Context) error {
	r, err := a.svc.FulfilRedemption(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

package httpapi

import (
	"net/http"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

// notify sends a capped notification to users or a stream's audience.
func (a *API) notify(c echo.Context) error {
	var spec engagement.NotificationSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	res, outs, err := a.svc.Notify(c.Request().Context(), actorOf(c), spec)
	for _, out := range outs {
		a.deliver(c, out)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

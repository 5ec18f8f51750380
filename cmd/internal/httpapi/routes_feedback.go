package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// promptFeedback asks the viewers of a live stream for a rating or an NPS score (engagement.PromptFeedback).
func (a *API) promptFeedback(c echo.Context) error {
	var req struct {
		Kind string `json:"kind"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	p, out, err := a.svc.PromptFeedback(c.Request().Context(), actorOf(c), c.Param("id"), req.Kind)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, p)
}

package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// getRules serves the rules as viewers may see them (engagement.PublicRules): anyone, no token.
func (a *API) getRules(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.JSON(http.StatusOK, a.svc.PublicRules())
}

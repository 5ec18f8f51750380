package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

// Personal data (docs/privacy.md): a user's export and erasure. The policy (the user, the shop's backend or an
// admin for the export; the shop or an admin for the erasure) is the Service's, asked before anything else.

// exportUser answers GET /api/v1/users/:uid/export: everything Kudos holds about the user, one JSON document.
func (a *API) exportUser(c echo.Context) error {
	d, err := a.svc.ExportUser(c.Request().Context(), actorOf(c), c.Param("uid"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, d)
}

// eraseUser answers DELETE /api/v1/users/:uid: 204 whether or not Kudos knew the user (idempotent). The live
// rooms where the user's comments or questions were shown are told to drop them.
func (a *API) eraseUser(c echo.Context) error {
	_, outs, err := a.svc.EraseUser(c.Request().Context(), actorOf(c), c.Param("uid"))
	for _, out := range outs {
		a.deliver(c, out)
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// refuseErased is the one check of a verified token against the erased users (forbidden, reason erased), for
// the bearer routes (auth) and the socket's handshake (websocket) alike.
func (a *API) refuseErased(ctx context.Context, actor engagement.Actor) error {
	return a.svc.CheckErased(ctx, actor.User)
}

// refreshToken is the socket's auth.refresh: the token verified as the handshake's was, and refused for an
// erased user as the handshake refuses them, so that a socket opened before the erasure cannot be kept open.
// It runs after the upgrade, outside the request: the erased mark is read under a context of its own.
func (a *API) refreshToken(tok string) (engagement.Actor, time.Time, error) {
	actor, exp, err := a.tokens.VerifyExpiry(tok)
	if err != nil {
		return engagement.Actor{}, time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.refuseErased(ctx, actor); err != nil {
		return engagement.Actor{}, time.Time{}, err
	}
	return actor, exp, nil
}

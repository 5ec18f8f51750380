package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
	"github.com/labstack/echo/v4"
)

// guestTTL is how long a development-mode guest token lives.
const guestTTL = 24 * time.Hour

func (a *API) guestToken(c echo.Context) error {
	if !a.cfg.DevMode {
		return engagement.Errorf(engagement.CodeForbidden, "guest tokens are only issued in development mode")
	}
	var req struct {
		Name string `json:"name"`
	}
	if c.Request().ContentLength != 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	user := guestUser()
	name := req.Name
	if strings.TrimSpace(name) == "" {
		name = "Guest " + strings.ToUpper(user[len(user)-4:])
	}
	name, err := engagement.CleanText("name", name, 32)
	if err != nil {
		return err
	}
	tok, exp, err := a.tokens.Mint(user, name, engagement.RoleViewer, "", guestTTL)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"token": tok, "user": user, "name": name, "role": engagement.RoleViewer, "expires_at": exp.UTC()})
}

// guestUser returns a random user id for a guest.
func guestUser() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "guest-" + hex.EncodeToString(b)
}

func (a *API) createStream(c echo.Context) error {
	var sp engagement.StreamSpec
	if err := bind(c, &sp); err != nil {
		return err
	}
	st, err := a.svc.CreateStream(c.Request().Context(), actorOf(c), sp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, st)
}

// streamView is a stream with its live viewer count.
type streamView struct {
	engagement.Stream
	Viewers int `json:"viewers"`
}

func (a *API) getStream(c echo.Context) error {
	ctx := c.Request().Context()
	st, err := a.svc.Stream(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	n, err := a.reg.StreamViewers(ctx, st.ID)
	if err != nil {
		return fmt.Errorf("count viewers of %s: %w", st.ID, err)
	}
	return c.JSON(http.StatusOK, streamView{Stream: st, Viewers: n})
}

func (a *API) updateStream(c echo.Context) error {
	var sp engagement.StreamSpec
	if err := bind(c, &sp); err != nil {
		return err
	}
	st, err := a.svc.UpdateStream(c.Request().Context(), actorOf(c), c.Param("id"), sp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (a *API) endStream(c echo.Context) error {
	st, out, err := a.svc.EndStream(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, st)
}

func (a *API) moderate(c echo.Context) error {
	var act engagement.ModerationAction
	if err := bind(c, &act); err != nil {
		return err
	}
	out, err := a.svc.Moderate(c.Request().Context(), actorOf(c), c.Param("id"), act)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

func (a *API) getModeration(c echo.Context) error {
	m, err := a.svc.ModerationOf(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// websocket authenticates, checks the origin and the stream, then hands the connection to the registry.
// Every refusal happens before the upgrade, as an HTTP problem body. The socket lives as long as its token
// (close 4001 token_expired), unless the client sends a fresh one (auth.refresh), verified as this one was.
func (a *API) websocket(c echo.Context) error {
	req := c.Request()
	tok := req.URL.Query().Get("token")
	if tok == "" {
		if h, ok := strings.CutPrefix(req.Header.Get(echo.HeaderAuthorization), "Bearer "); ok {
			tok = h
		}
	}
	if tok == "" {
		return engagement.Errorf(engagement.CodeUnauthorized, "a token is required (?token=)")
	}
	actor, exp, err := a.tokens.VerifyExpiry(tok)
	if err != nil {
		return err
	}
	if err := a.refuseErased(req.Context(), actor); err != nil {
		return err
	}
	if !a.reg.OriginAllowed(req) {
		return engagement.Errorf(engagement.CodeForbidden, "origin %q is not allowed", req.Header.Get("Origin"))
	}
	sess := stream.Session{Actor: actor, Expires: exp, Refresh: a.refreshToken}
	err = a.reg.ServeWS(c.Response(), req, sess, c.Param("id"))
	var limited *stream.RateLimitedError
	switch {
	case errors.Is(err, stream.ErrShuttingDown):
		return engagement.Errorf(engagement.CodeUnavailable, "server is shutting down")
	case errors.Is(err, stream.ErrNotWebSocket):
		return engagement.Errorf(engagement.CodeInvalid, "this endpoint takes WebSocket upgrades only")
	case errors.Is(err, stream.ErrTooManyConnections):
		return engagement.Errorf(engagement.CodeRateLimited, "too many open connections for this user or address")
	case errors.As(err, &limited):
		secs := max(1, int(math.Ceil(limited.RetryAfter.Seconds())))
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return engagement.Errorf(engagement.CodeRateLimited, "connecting too often; retry in %d s", secs)
	}
	return err
}

// sdkHandler serves the client SDK (static/sdk): the module as JavaScript, its declarations as TypeScript
// (not the MPEG transport stream a system MIME table may map ".ts" to); shops load it into their own pages,
// so routes wraps it in withCORS: readable from the origins of KUDOS_ALLOWED_ORIGINS.
func sdkHandler(pages fs.FS) echo.HandlerFunc {
	files := http.FileServerFS(pages)
	return func(c echo.Context) error {
		h := c.Response().Header()
		switch name := c.Request().URL.Path; {
		case strings.HasSuffix(name, ".d.ts"):
			h.Set(echo.HeaderContentType, "application/typescript; charset=utf-8")
		case strings.HasSuffix(name, ".js"):
			h.Set(echo.HeaderContentType, "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

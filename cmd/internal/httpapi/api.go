// Package httpapi is Kudos's HTTP face: echo, middleware, token checks, the REST handlers of /api/v1, the one
// mapping from errors to problem bodies, the WebSocket entry point and the embedded pages.
package httpapi

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Config wires the API to the rest of the server.
type Config struct {
	Service  *engagement.Service
	Registry *stream.Registry
	// Tokens verifies bearer tokens and mints guest tokens.
	Tokens *authtoken.Key
	// DevMode allows guest tokens (POST /api/v1/tokens/guest).
	DevMode bool
	// AllowedOrigins are the browser origins allowed by CORS besides the server's own.
	AllowedOrigins []string
	// FrameAncestors are the shop origins that may frame the embeddable room (/embed/:stream, routes_embed.go),
	// validated by config; every other page forbids framing.
	FrameAncestors []string
	// Gatherer serves /metrics. Default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP metrics (kudos_http_request_duration_seconds); nil registers none.
	Registerer prometheus.Registerer
	// Ready reports whether the server can take traffic (/readyz); nil means always ready.
	Ready func(ctx context.Context) error
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Logger receives structured logs, the access log (accesslog.go) among them. Default slog.Default().
	Logger *slog.Logger
}

// API holds the handlers.
type API struct {
	cfg     Config
	svc     *engagement.Service
	reg     *stream.Registry
	tokens  *authtoken.Key
	log     *slog.Logger
	metrics *httpMetrics
}

// New returns the echo server with every route of API.routes mounted.
func New(cfg Config) *echo.Echo {
	a := newAPI(cfg)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.errorHandler
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "no-referrer",
		ContentSecurityPolicy: pagePolicy + "; frame-ancestors 'none'", // the embed's own: routes_embed.go
	}))

	g := e.Group(apiPrefix, a.limitBody)
	// Cross-origin calls only from the configured origins (the same for the SDK: routes_embed.go).
	if cors := a.cors(); cors != nil {
		g.Use(cors)
	}
	for _, r := range a.routes() {
		var mw []echo.MiddlewareFunc
		if r.access != anyone {
			mw = append(mw, a.auth, a.authorize(r.access))
		}
		if sub, ok := strings.CutPrefix(r.path, apiPrefix); ok && strings.HasPrefix(sub, "/") {
			g.Add(r.method, sub, r.handler, mw...)
		} else {
			e.Add(r.method, r.path, r.handler, mw...)
		}
	}
	known := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			known[r.Path] = true
		}
	}
	e.Pre(a.accessLog(known))
	return e
}

// newAPI returns the API over cfg with its defaults filled in.
func newAPI(cfg Config) *API {
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, svc: cfg.Service, reg: cfg.Registry, tokens: cfg.Tokens, log: cfg.Logger, metrics: newHTTPMetrics(cfg.Registerer)}
}

func pageHandler(pages fs.FS, name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := fs.ReadFile(pages, name)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.HTMLBlob(http.StatusOK, b)
	}
}

func (a *API) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, a.cfg.MaxBodyBytes)
		return next(c)
	}
}

const actorKey = "kudos.actor"

// auth requires a valid bearer token and stores the actor for the handler.
func (a *API) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return engagement.Errorf(engagement.CodeUnauthorized, "an Authorization: Bearer token is required")
		}
		actor, err := a.tokens.Verify(tok)
		if err != nil {
			return err
		}
		if err := a.refuseErased(c.Request().Context(), actor); err != nil {
			return err
		}
		c.Set(actorKey, actor)
		return next(c)
	}
}

// actorOf returns the actor stored by auth.
func actorOf(c echo.Context) engagement.Actor {
	act, _ := c.Get(actorKey).(engagement.Actor)
	return act
}

func healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(c echo.Context) error {
	if a.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := a.cfg.Ready(ctx); err != nil {
			return engagement.Errorf(engagement.CodeUnavailable, "not ready: %v", err)
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// deliver sends an outcome to the stream's sockets; a failure is logged (the action itself succeeded).
// The action is already committed, so the delivery must not die with the host's HTTP connection.
func (a *API) deliver(c echo.Context, out engagement.Outcome) {
	if err := a.reg.Deliver(context.WithoutCancel(c.Request().Context()), out); err != nil {
		a.log.Error("deliver outcome", "stream", out.Stream, "err", err)
	}
}

// authorize applies the one policy (engagement) that access names, after auth and before the handler reads
// a body: a refusal answers for the request whatever its body holds.
func (a *API) authorize(acc access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			actor := actorOf(c)
			var err error
			switch acc {
			case hostOf, staffOf:
				err = a.svc.AuthorizeStream(c.Request().Context(), actor, c.Param("id"), acc == staffOf)
			case shop:
				err = engagement.RequireShop(actor, "may call the shop's APIs")
			}
			if err != nil {
				return err
			}
			return next(c)
		}
	}
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"strings"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// pagePolicy is the Content-Security-Policy of every answer without its frame-ancestors directive: New adds
// frame-ancestors 'none' for everything, embedPage replaces it with the shops' origins for the embed only.
const pagePolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'"

// embedMeta is the name of the meta tag that carries the embed's settings to static/assets/embed.js.
const embedMeta = "kudos-embed"

// embedSettings is what the embed page learns from the server: the origins it may talk to as its parent.
type embedSettings struct {
	// FrameAncestors are KUDOS_FRAME_ANCESTORS: embed.js posts to ?parent= only when it is one of them (or the
	// server's own origin, which frame-ancestors 'self' allows too).
	FrameAncestors []string `json:"frame_ancestors"`
}

// embedPolicy is the Content-Security-Policy of the embed: the page policy, framable by the server's own pages
// and the shops of KUDOS_FRAME_ANCESTORS. A browser refuses to show the room in a frame of any other origin.
func embedPolicy(ancestors []string) string {
	return strings.Join(append([]string{pagePolicy + "; frame-ancestors 'self'"}, ancestors...), " ")
}

// embedPage serves the embeddable room, /embed/:stream: the viewer page's own markup (index.html, so that the
// two never drift apart), with a meta tag of embedSettings and the embed's stylesheet; viewer.js sees the tag
// and loads embed.js (the token from the parent, postMessage, theming). It is the one answer that a page of
// another origin may frame: it carries frame-ancestors from KUDOS_FRAME_ANCESTORS and no X-Frame-Options.
func (a *API) embedPage(pages fs.FS) echo.HandlerFunc {
	settings, err := json.Marshal(embedSettings{FrameAncestors: append([]string{}, a.cfg.FrameAncestors...)})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	head := fmt.Sprintf(`<meta name="%s" content="%s">`+"\n"+`  <link rel="stylesheet" href="/assets/embed.css">`+"\n",
		embedMeta, html.EscapeString(string(settings)))
	policy := embedPolicy(a.cfg.FrameAncestors)
	return func(c echo.Context) error {
		if !engagement.ValidStreamID(c.Param("stream")) {
			return engagement.Errorf(engagement.CodeNotFound, "no such stream: a stream id is 1-63 lowercase letters, digits or dashes")
		}
		page, err := fs.ReadFile(pages, "index.html")
		if err != nil {
			return err
		}
		i := bytes.Index(page, []byte("</head>"))
		if i < 0 {
			return fmt.Errorf("embed: index.html has no </head>")
		}
		out := make([]byte, 0, len(page)+len(head))
		out = append(append(append(out, page[:i]...), head...), page[i:]...)
		h := c.Response().Header()
		h.Set("Content-Security-Policy", policy)
		h.Del("X-Frame-Options")
		h.Set("Cache-Control", "no-cache")
		return c.HTMLBlob(http.StatusOK, out)
	}
}

// cors returns the CORS middleware of the API and the SDK: cross-origin calls only from
// KUDOS_ALLOWED_ORIGINS, never "*". echo's middleware treats an empty list as "*", so with no origin
// configured it returns nil and nothing is installed: same-origin pages need no CORS.
func (a *API) cors() echo.MiddlewareFunc {
	if len(a.cfg.AllowedOrigins) == 0 {
		return nil
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: a.cfg.AllowedOrigins,
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType},
		AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		MaxAge:       600,
	})
}

// withCORS wraps a handler outside /api/v1 (the SDK) in cors.
func (a *API) withCORS(h echo.HandlerFunc) echo.HandlerFunc {
	if cors := a.cors(); cors != nil {
		return cors(h)
	}
	return h
}

// noContent answers 204: an OPTIONS request that no CORS middleware took (no origin configured).
func noContent(c echo.Context) error { return c.NoContent(http.StatusNoContent) }

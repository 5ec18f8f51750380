package httpapi

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// HeaderRequestID carries a request's id: taken from the request when it is a sensible one (a proxy's or a
// client's), generated otherwise, and always returned in the response and written in the access log.
const HeaderRequestID = "X-Request-ID"

// requestIDKey is where the access log leaves the request id for handlers (echo.Context.Get).
const requestIDKey = "kudos.request_id"

// unmatchedRoute is the route label of a request that matched no route (a 404 or 405 from the router): the
// raw path would make the label unbounded.
const unmatchedRoute = "unmatched"

// HTTPDurationBuckets are the upper bounds, in seconds, of kudos_http_request_duration_seconds: Prometheus's
// defaults with a millisecond bucket in front, since most handlers answer from memory or one Redis round trip.
var HTTPDurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// httpMetrics are the HTTP server's collectors.
type httpMetrics struct {
	duration *prometheus.HistogramVec // by method, route (the pattern) and code
}

// newHTTPMetrics creates the collectors and registers them with reg (nil: not registered). A registry that
// already holds them (a second API on one registry, in tests) shares them.
func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kudos_http_request_duration_seconds",
			Help:    "HTTP requests by method, route pattern and status code, and their duration until the handler returned (WebSocket upgrades: until the socket was handed over, status 101).",
			Buckets: HTTPDurationBuckets,
		}, []string{"method", "route", "code"}),
	}
	if reg != nil {
		if err := reg.Register(m.duration); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				panic(err) // a programming error: a clashing collector
			}
			m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	return m
}

// knownMethods bounds the method label: anything else (a client may send any token) is "other".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// accessLog is the outermost middleware (echo's Pre, so that requests refused before routing are seen too):
// it gives the request an id, lets the rest answer (errors are written by the error handler here, so the
// status is the one sent), then writes one log line and one histogram observation. It logs the route
// pattern, never the raw path or query (a WebSocket token travels in ?token=, a coupon code in the path),
// and no header but the request id.
func (a *API) accessLog(routes map[string]bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req, res := c.Request(), c.Response()
			id := req.Header.Get(HeaderRequestID)
			if !validRequestID(id) {
				id = newRequestID()
			}
			c.Set(requestIDKey, id)
			res.Header().Set(HeaderRequestID, id)
			hw := &hijackWatch{ResponseWriter: res.Writer}
			res.Writer = hw

			if err := next(c); err != nil {
				c.Error(err)
			}

			elapsed := time.Since(start)
			status, size := res.Status, res.Size
			if hw.hijacked {
				status = http.StatusSwitchingProtocols // the upgrader answered on the raw connection
			}
			route := c.Path()
			if !routes[route] {
				route = unmatchedRoute
			}
			method := req.Method
			if !knownMethods[method] {
				method = "other"
			}
			a.metrics.duration.WithLabelValues(method, route, strconv.Itoa(status)).Observe(elapsed.Seconds())
			a.log.LogAttrs(req.Context(), slog.LevelInfo, "http request",
				slog.String("method", method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", size),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("remote", remoteHost(req.RemoteAddr)),
				slog.String("request_id", id),
			)
			return nil
		}
	}
}

// requestIDOf returns the id the access log gave the request.
func requestIDOf(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// validRequestID accepts an incoming id of 1 to 128 characters from [A-Za-z0-9._:-] (UUIDs, trace ids,
// nginx's $request_id); anything else is replaced, so that a client cannot forge log lines or bloat them.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '.', ch == '_', ch == ':', ch == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex (32 characters).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// remoteHost is the peer's address without its port: the balancer's behind one (which logs the client).
// X-Forwarded-For is not trusted, as the connection limits in stream do not trust it.
func remoteHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// hijackWatch records whether the handler took the connection over (a WebSocket upgrade), which echo's
// Response does not track. Flush and the rest reach the server's writer through Unwrap.
type hijackWatch struct {
	http.ResponseWriter
	hijacked bool
}

func (w *hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

func (w *hijackWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

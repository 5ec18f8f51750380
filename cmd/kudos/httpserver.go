package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kudos-live/kudos/cmd/internal/config"
)

// metricsPath is where Prometheus scrapes: on the main listener, or only on KUDOS_METRICS_ADDR when set.
const metricsPath = "/metrics"

// httpServers are the server's listeners: the main one (API, sockets, pages) and, with KUDOS_METRICS_ADDR,
// a private one for /metrics.
type httpServers struct {
	servers []*http.Server
	addrs   []net.Addr
	errs    chan error // Serve's result, one per server
}

// startHTTP listens on cfg.Addr (and cfg.MetricsAddr when set) and serves e (and the metrics of g) there.
// With a metrics address the main listener answers /metrics with 404, so the metrics need not be public;
// with KUDOS_PPROF the metrics listener also serves Go's profiles (net/http/pprof), never the main one.
func startHTTP(cfg config.Config, e *echo.Echo, g prometheus.Gatherer, log *slog.Logger) (*httpServers, error) {
	hs := &httpServers{errs: make(chan error, 2)}
	if cfg.MetricsAddr != "" {
		e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if c.Request().URL.Path == metricsPath {
					return echo.ErrNotFound
				}
				return next(c)
			}
		})
	}
	if err := hs.listen(cfg, cfg.Addr, "KUDOS_ADDR", e, log); err != nil {
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET "+metricsPath, promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
		if cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, allocs, …
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			log.Warn("profiling on: Go's profiles at /debug/pprof/ on the metrics listener (KUDOS_PPROF)", "addr", cfg.MetricsAddr)
		}
		if err := hs.listen(cfg, cfg.MetricsAddr, "KUDOS_METRICS_ADDR", mux, log); err != nil {
			hs.close()
			return nil, err
		}
	}
	return hs, nil
}

// listen starts one server on addr (named by the setting it comes from) with the configured edges.
func (hs *httpServers) listen(cfg config.Config, addr, setting string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (%s): %w", addr, setting, err)
	}
	srv := newHTTPServer(cfg, h, log)
	hs.servers = append(hs.servers, srv)
	hs.addrs = append(hs.addrs, ln.Addr())
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
		hs.errs <- fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	}()
	return nil
}

// newHTTPServer returns a server for h with the configured edges: every request body bounded, a request
// that trickles its headers or body cut by the read timeouts, a handler bounded by the write timeout, idle
// keep-alive connections closed. WebSocket connections are not cut by these: the upgrade hijacks the
// connection, which clears the server's deadlines, and stream sets its own (pong wait, write wait).
func newHTTPServer(cfg config.Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           http.MaxBytesHandler(h, cfg.HTTPMaxBodyBytes),
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// shutdown stops every server gracefully (open requests finish; hijacked sockets are left to stream).
func (hs *httpServers) shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range hs.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// close stops every server at once (a failed start).
func (hs *httpServers) close() {
	for _, srv := range hs.servers {
		_ = srv.Close()
	}
}

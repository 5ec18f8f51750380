// Command kudos is the Kudos server: live-stream engagement over WebSocket, the host API, loyalty points
// and events to Kafka. With no configuration it runs on embedded defaults (in-memory state, an embedded
// development Kafka broker, development tokens). `kudos token` mints tokens for operators and scripts;
// `kudos rules check FILE` checks a rules file (KUDOS_RULES) and names the field of every problem.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // KUDOS_TIME_ZONE works in images without a zone database (distroless)

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/time/rate"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/cmd/internal/httpapi"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kudos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return mintToken(args[1:], getenv, stdout)
		case "healthcheck":
			return healthcheck(getenv)
		case "rules":
			return rulesCmd(args[1:], stdout, stderr)
		case "topics":
			return topicsCmd(ctx, args[1:], getenv, stdout, stderr)
		case "ledger":
			return ledgerCmd(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("kudos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen address (overrides KUDOS_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Addr = *addr
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	return serve(ctx, cfg, log)
}

// newLogger writes structured logs at level to w: text for people, or json (KUDOS_LOG_FORMAT=json) for log
// pipelines, one object per line with the same fixed keys.
func newLogger(level, format string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// mintToken implements `kudos token --role host --stream ID`: a token signed with KUDOS_TOKEN_SECRET.
func mintToken(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kudos token", flag.ContinueOnError)
	role := fs.String("role", engagement.RoleViewer, "viewer, host, service or admin")
	user := fs.String("user", "", "user id (sub); default <role>-1")
	name := fs.String("name", "", "display name")
	streamID := fs.String("stream", "", "stream a host token is limited to")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("KUDOS_TOKEN_SECRET")
	if secret == "" {
		return errors.New("KUDOS_TOKEN_SECRET is not set: tokens of a development server die with it; set the same secret for the server and this command")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	tokens, err := authtoken.New([]byte(secret), tokenConfig(cfg)) // iss and aud as the server checks them
	if err != nil {
		return err
	}
	if *user == "" {
		*user = *role + "-1"
	}
	tok, _, err := tokens.Mint(*user, *name, *role, *streamID, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// tokenConfig is how tokens are checked and minted, from the settings.
func tokenConfig(cfg config.Config) authtoken.Config {
	return authtoken.Config{MaxLifetime: cfg.TokenMaxLifetime, Issuer: cfg.TokenIssuer, Audience: cfg.TokenAudience}
}

// shutdownTimeout bounds the orderly shutdown of HTTP requests and sockets.
const shutdownTimeout = 15 * time.Second

// serve runs the server until ctx ends, then shuts down in order: HTTP, sockets (1001), events, state.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	secret := []byte(cfg.TokenSecret)
	if cfg.DevMode() {
		secret = authtoken.RandomSecret()
		log.Warn("DEVELOPMENT MODE: KUDOS_TOKEN_SECRET is not set; using a random secret for this process and issuing guest viewer tokens at POST /api/v1/tokens/guest")
	}
	tokens, err := authtoken.New(secret, tokenConfig(cfg))
	if err != nil {
		return err
	}

	// The rules file first: a bad one stops the server before anything starts.
	rules := engagement.DefaultRules()
	if cfg.RulesPath != "" {
		if rules, err = engagement.LoadRules(cfg.RulesPath); err != nil {
			return fmt.Errorf("load the rules file (KUDOS_RULES): %w", err)
		}
		log.Info("rules loaded", "path", cfg.RulesPath, "monthly_cap", rules.Loyalty.MonthlyCap,
			"tier_basis", rules.Loyalty.TierBasis, "tiers", len(rules.Loyalty.Tiers))
	}

	parts, err := buildBackends(ctx, cfg, log, promReg, rules.Loyalty.LedgerConfig())
	if err != nil {
		return err
	}
	defer parts.close(log)
	awards, err := openAwardQueue(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := awards.Close(); err != nil {
			log.Error("close award queue", "err", err)
		}
	}()
	svc := engagement.New(engagement.Config{
		Node: cfg.Node, Logger: log, Rules: &rules, Ledger: parts.ledger, Awards: awards, OmitEventText: cfg.OmitEventText,
		Notify: engagement.NotifyConfig{
			DailyLimit: cfg.NotifyDailyLimit, QuietStart: cfg.QuietStart, QuietEnd: cfg.QuietEnd,
			NoQuietHours: cfg.NoQuietHours, Location: cfg.TimeZone,
		},
	}, parts.store, parts.sink)
	reg := stream.NewRegistry(stream.Config{
		Node:             cfg.Node,
		AllowedOrigins:   cfg.AllowedOrigins,
		MaxConnsPerUser:  cfg.MaxConnsPerUser,
		MaxConnsPerIP:    cfg.MaxConnsPerIP,
		WriteDelay:       cfg.WriteDelay,
		HandshakeRate:    rate.Limit(cfg.HandshakeRatePerUser),
		HandshakeBurst:   cfg.HandshakeBurstPerUser,
		HandshakeIPRate:  rate.Limit(cfg.HandshakeRatePerIP),
		HandshakeIPBurst: cfg.HandshakeBurstPerIP,
		Fanout:           parts.fanout,
		Presence:         parts.presence,
		Metrics:          stream.NewMetrics(promReg),
		Logger:           log,
	}, svc)

	e := httpapi.New(httpapi.Config{
		Service:        svc,
		Registry:       reg,
		Tokens:         tokens,
		DevMode:        cfg.DevMode(),
		AllowedOrigins: cfg.AllowedOrigins,
		FrameAncestors: cfg.FrameAncestors,
		Gatherer:       promReg,
		Registerer:     promReg,
		Ready:          parts.ready,
		MaxBodyBytes:   cfg.HTTPMaxBodyBytes,
		Logger:         log,
	})
	// The award queue's payer: awards the ledger could not take when they were earned, or whose events were
	// not durable yet, including those an earlier process left in the queue.
	awardsCtx, stopAwards := context.WithCancel(context.WithoutCancel(ctx))
	awardsDone := make(chan struct{})
	go func() {
		defer close(awardsDone)
		svc.RunAwards(awardsCtx, func(ctx context.Context, out engagement.Outcome) {
			if err := reg.Deliver(ctx, out); err != nil {
				log.Warn("deliver queued award", "stream", out.Stream, "err", err)
			}
		})
	}()
	defer func() { stopAwards(); <-awardsDone }() // before the queue and the backends close

	web, err := startHTTP(cfg, e, promReg, log)
	if err != nil {
		return err
	}
	log.Info("kudos listening", "addr", web.addrs[0].String(), "node", cfg.Node)
	if len(web.addrs) > 1 {
		log.Info("metrics listening (not on the main address)", "addr", web.addrs[1].String(), "path", metricsPath)
	}

	if cfg.DevMode() {
		if err := startDemo(ctx, cfg, svc, tokens, log); err != nil {
			log.Error("start demo stream", "err", err)
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-web.errs: // still shut the rest down in order
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := web.shutdown(sctx); err != nil {
		log.Error("http shutdown", "err", err)
	}
	if err := reg.Shutdown(sctx); err != nil {
		log.Error("socket shutdown", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// startDemo creates the development `demo` stream and logs a viewer URL and a host panel URL.
func startDemo(ctx context.Context, cfg config.Config, svc *engagement.Service, tokens *authtoken.Key, log *slog.Logger) error {
	const demo = "demo"
	admin := engagement.Actor{User: "host-demo", Name: "Demo Host", Role: engagement.RoleHost, Stream: demo}
	if _, err := svc.CreateStream(ctx, admin, engagement.StreamSpec{ID: demo, Title: "Kudos demo live: spring collection"}); err != nil && engagement.CodeOf(err) != engagement.CodeDuplicate {
		return err
	}
	// A shelf to sell from, the first product being presented, as a host would set it up (the demo's links
	// go to an example shop).
	for i, p := range []engagement.Product{
		{ID: "serum-30", Title: "Glow Vitamin C Serum · 30 ml", PriceFen: 12900, ListPriceFen: 19900, URL: "https://shop.example/products/serum-30"},
		{ID: "mask-5", Title: "Hydrating Sheet Mask · 5 pack", PriceFen: 5900, ListPriceFen: 8900, URL: "https://shop.example/products/mask-5"},
	} {
		if _, err := svc.AddProduct(ctx, admin, demo, p); err != nil && engagement.CodeOf(err) != engagement.CodeDuplicate {
			return err
		}
		if i == 0 {
			if _, _, err := svc.PinProduct(ctx, admin, demo, p.ID); err != nil {
				return err
			}
		}
	}
	tok, _, err := tokens.Mint(admin.User, admin.Name, engagement.RoleHost, demo, 24*time.Hour)
	if err != nil {
		return err
	}
	log.Info("demo stream ready", "viewer_url", cfg.PublicURL+"/?stream="+demo)
	log.Info("host panel (this URL carries a host token; keep it private)", "host_url", cfg.PublicURL+"/host?stream="+demo+"&token="+tok)
	return nil
}

// healthcheck implements `kudos healthcheck` for container HEALTHCHECKs (the image has no curl): it asks the
// local server's /healthz and fails unless it answers 200.
func healthcheck(getenv func(string) string) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("parse KUDOS_ADDR %q: %w", cfg.Addr, err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	res, err := client.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %s", res.Status)
	}
	return nil
}

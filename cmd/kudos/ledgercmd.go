package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// errLedgerMigrationNeeded refuses to serve on a Redis ledger of an earlier layout (rewards.ErrLayoutOutdated):
// this version would not see a point of it. The earlier layout put one user's keys in several hash slots;
// the current one is cluster-ready (docs/scaling.md).
var errLedgerMigrationNeeded = errors.New("the loyalty ledger in Redis was written by an earlier version (layout 1): " +
	"stop every node, run `kudos ledger migrate` once with the same settings (KUDOS_REDIS_URL or KUDOS_REDIS_SENTINEL, KUDOS_RULES), " +
	"then start the nodes of this version")

// checkLedgerLayout is the startup check of the ledger's store (rewards.Ledger.CheckStore).
func checkLedgerLayout(ctx context.Context, ledger *rewards.Ledger) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second) // a first start may SCAN a large Redis once
	defer cancel()
	err := ledger.CheckStore(ctx)
	if errors.Is(err, rewards.ErrLayoutOutdated) {
		return errLedgerMigrationNeeded
	}
	if err != nil {
		return fmt.Errorf("check the loyalty ledger in Redis: %w", err)
	}
	return nil
}

// ledgerCmd implements `kudos ledger migrate`: it moves a Redis ledger of an earlier layout to the current
// one (rewards.RedisStore.Migrate), with the Redis settings and the rules file of the server.
func ledgerCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "migrate" {
		return errors.New("usage: kudos ledger migrate (with the server's settings: KUDOS_REDIS_URL or KUDOS_REDIS_SENTINEL, KUDOS_RULES); stop every node first")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	if !cfg.Redis.Configured() {
		return errors.New("kudos ledger migrate: no Redis configured (KUDOS_REDIS_URL or KUDOS_REDIS_SENTINEL): an in-memory ledger has nothing to migrate")
	}
	rules := engagement.DefaultRules()
	if cfg.RulesPath != "" {
		if rules, err = engagement.LoadRules(cfg.RulesPath); err != nil {
			return fmt.Errorf("load the rules file (KUDOS_RULES): %w", err)
		}
	}
	econ := rules.Loyalty.LedgerConfig()
	econ.Location = cfg.TimeZone
	log := slog.New(slog.NewTextHandler(stderr, nil))
	rdb, topology, err := newRedisClient(ctx, cfg.Redis, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ledger, err := rewards.NewLedger(rewards.NewRedisStore(rdb, rewards.RedisConfig{}), econ)
	if err != nil {
		return err
	}
	started := time.Now()
	rep, err := ledger.MigrateStore(ctx)
	if err != nil {
		return err
	}
	if err := ledger.CheckStore(ctx); err != nil {
		return fmt.Errorf("after the migration: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "ledger migrated on %s in %s: %d accounts, %d award records, %d leaderboards, %d rewards redeemed, %d gift claims; %d accounts brought up to date and indexed\n",
		topology, time.Since(started).Round(time.Millisecond), rep.Users, rep.Records, rep.Boards, rep.Rewards, rep.Gifts, rep.Reindexed)
	return err
}

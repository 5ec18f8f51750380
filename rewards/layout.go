package rewards

import (
	"context"
	"errors"
)

// CheckStore is what a node checks before it serves on the ledger's store: a RedisStore's layout
// (RedisStore.CheckLayout; ErrLayoutOutdated until `kudos ledger migrate` ran). Other stores have none.
func (l *Ledger) CheckStore(ctx context.Context) error {
	if c, ok := l.store.(interface{ CheckLayout(context.Context) error }); ok {
		return c.CheckLayout(ctx)
	}
	return nil
}

// MigrateStore moves a RedisStore of an earlier layout to the current one (RedisStore.Migrate), bringing each
// user up to date at the ledger's clock.
func (l *Ledger) MigrateStore(ctx context.Context) (MigrateReport, error) {
	m, ok := l.store.(*RedisStore)
	if !ok {
		return MigrateReport{}, errors.New("migrate the ledger: only a Redis ledger has a layout to migrate")
	}
	return m.Migrate(ctx, l.policy(l.cfg.Now()))
}

package engagement

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRedisCodeIndexKeyPerDeployment: the codes index is named by the deployment's key, so a store with
// another key (another deployment, or the development key that is in this source) finds nothing, and no
// key of the index holds the code or its hash under the development key.
func TestRedisCodeIndexKeyPerDeployment(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	key := []byte(strings.Repeat("d", 32))
	ours := NewRedisStore(rdb, RedisConfig{Prefix: prefix, CodeIndexKey: key})
	sameKey := NewRedisStore(rdb, RedisConfig{Prefix: prefix, CodeIndexKey: key})
	dev := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	rec := ClaimedCode{CouponID: "c1", StreamID: "s1", UserID: "ann", DiscountFen: 500, ExpiresAt: time.Now().Add(time.Hour).UTC(), Status: CodeStatusClaimed}
	noErr(t, ours.IndexCouponCode(ctx, "SHOP-CODE-7", rec))

	if got, err := sameKey.CouponByCode(ctx, "SHOP-CODE-7"); err != nil || got.CouponID != "c1" {
		t.Fatalf("another node with the same key: %+v %v", got, err)
	}
	if _, err := dev.CouponByCode(ctx, "SHOP-CODE-7"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a store with the development key found the code: %v", err)
	}
	keys, err := rdb.Keys(ctx, prefix+"coupon-code:*").Result()
	noErr(t, err)
	if len(keys) != 1 || !strings.Contains(keys[0], couponCodeKey(key, "SHOP-CODE-7")) ||
		strings.Contains(keys[0], "SHOP-CODE-7") || strings.Contains(keys[0], couponCodeKey(DevCodeIndexKey, "SHOP-CODE-7")) {
		t.Fatalf("index keys %v: want one, named by the deployment key's HMAC of the code", keys)
	}
}

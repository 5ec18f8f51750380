package testenv

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDumpKey is one key of a dump file: its name (without a prefix), type, time to live and value.
type RedisDumpKey struct {
	Key   string            `json:"key"`
	Type  string            `json:"type"`
	TTLms int64             `json:"ttl_ms"`
	Str   string            `json:"string"`
	Hash  map[string]string `json:"hash"`
	List  []string          `json:"list"`
	ZSet  []struct {
		M string  `json:"m"`
		S float64 `json:"s"`
	} `json:"zset"`
}

// LoadRedisDump writes the keys of a JSON dump file (an object whose "keys" lists RedisDumpKey) to rdb under
// prefix, with their times to live, and returns the file's bytes.
func LoadRedisDump(tb testing.TB, rdb redis.Cmdable, prefix, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var dump struct {
		Keys []RedisDumpKey `json:"keys"`
	}
	if err := json.Unmarshal(raw, &dump); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	ctx := context.Background()
	for _, k := range dump.Keys {
		key := prefix + k.Key
		switch k.Type {
		case "string":
			err = rdb.Set(ctx, key, k.Str, 0).Err()
		case "hash":
			err = rdb.HSet(ctx, key, k.Hash).Err()
		case "list":
			err = rdb.RPush(ctx, key, k.List).Err()
		case "zset":
			for _, z := range k.ZSet {
				if err = rdb.ZAdd(ctx, key, redis.Z{Score: z.S, Member: z.M}).Err(); err != nil {
					break
				}
			}
		default:
			tb.Fatalf("%s: key %s of type %s", path, k.Key, k.Type)
		}
		if err == nil && k.TTLms > 0 {
			err = rdb.PExpire(ctx, key, time.Duration(k.TTLms)*time.Millisecond).Err()
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return raw
}

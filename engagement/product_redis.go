package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The product shelf.

// addProductScript appends a product unless its id is taken or the shelf is full. KEYS: products, order,
// pinned. ARGV: id, json, max, ttl ms. Returns 'duplicate', 'full' or 'ok'.
var addProductScript = luaScript("product_add.lua")

// removeProductScript takes a product off the shelf and unpins it. KEYS: products, order, pinned. ARGV: id,
// ttl ms. Returns 'not_found', 'pinned' or 'ok'.
var removeProductScript = luaScript("product_remove.lua")

// pinProductScript pins or unpins a product of the shelf. KEYS: products, order, pinned. ARGV: id, ttl ms,
// 'pin' or 'unpin'.
var pinProductScript = luaScript("product_pin.lua")

// pinnedProductScript reads the pinned product in one step. KEYS: products, pinned.
var pinnedProductScript = luaScript("product_pinned.lua")

// listProductsScript reads the shelf in order in one step. KEYS: products, order.
var listProductsScript = luaScript("product_list.lua")

func (s *RedisStore) productKeys(stream string) (products, order, pinned string) {
	products = s.streamSubKey(stream, "products")
	return products, products + ":order", products + ":pinned"
}

func decodeProduct(raw string) (Product, error) {
	var p Product
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Product{}, fmt.Errorf("decode product: %w", err)
	}
	return p, nil
}

// AddProduct implements ProductStore with one script.
func (s *RedisStore) AddProduct(ctx context.Context, stream string, p Product, max int) error {
	if !validProductID(p.ID) {
		return fmt.Errorf("product id %q cannot be stored: %w", p.ID, ErrInvalid)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode product %s: %w", p.ID, err)
	}
	products, order, pinned := s.productKeys(stream)
	res, _, err := s.runScript(ctx, "add product "+p.ID+" to "+stream, addProductScript,
		[]string{products, order, pinned}, p.ID, b, max, ttlMS(s.ttl))
	switch {
	case err != nil:
		return err
	case res == "duplicate":
		return ErrDuplicate
	case res == "full":
		return ErrFull
	}
	return nil
}

// Products implements ProductStore.
func (s *RedisStore) Products(ctx context.Context, stream string) ([]Product, error) {
	products, order, _ := s.productKeys(stream)
	_, data, err := s.runScript(ctx, "products of "+stream, listProductsScript, []string{products, order})
	if err != nil {
		return nil, err
	}
	ps := make([]Product, 0, len(data))
	for _, raw := range data {
		p, err := decodeProduct(raw)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Product implements ProductStore.
func (s *RedisStore) Product(ctx context.Context, stream, id string) (Product, error) {
	if !validProductID(id) {
		return Product{}, ErrNotFound
	}
	products, _, _ := s.productKeys(stream)
	raw, err := s.rdb.HGet(ctx, products, id).Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return Product{}, ErrNotFound
		}
		return Product{}, unavailable("get product "+id+" of "+stream, err)
	}
	return decodeProduct(raw)
}

// RemoveProduct implements ProductStore with one script.
func (s *RedisStore) RemoveProduct(ctx context.Context, stream, id string) (bool, error) {
	if !validProductID(id) {
		return false, ErrNotFound
	}
	products, order, pinned := s.productKeys(stream)
	res, _, err := s.runScript(ctx, "remove product "+id+" of "+stream, removeProductScript,
		[]string{products, order, pinned}, id, ttlMS(s.ttl))
	if err != nil {
		return false, err
	}
	if res == "not_found" {
		return false, ErrNotFound
	}
	return res == "pinned", nil
}

// PinProduct implements ProductStore with one script.
func (s *RedisStore) PinProduct(ctx context.Context, stream, id string) (Product, error) {
	if !validProductID(id) {
		return Product{}, ErrNotFound
	}
	products, order, pinned := s.productKeys(stream)
	res, data, err := s.runScript(ctx, "pin product "+id+" of "+stream, pinProductScript,
		[]string{products, order, pinned}, id, ttlMS(s.ttl), "pin")
	if err != nil {
		return Product{}, err
	}
	if res != "ok" || len(data) != 1 {
		return Product{}, ErrNotFound
	}
	return decodeProduct(data[0])
}

// UnpinProduct implements ProductStore with one script.
func (s *RedisStore) UnpinProduct(ctx context.Context, stream, id string) (bool, error) {
	if !validProductID(id) {
		return false, ErrNotFound
	}
	products, order, pinned := s.productKeys(stream)
	res, _, err := s.runScript(ctx, "unpin product "+id+" of "+stream, pinProductScript,
		[]string{products, order, pinned}, id, ttlMS(s.ttl), "unpin")
	if err != nil {
		return false, err
	}
	if res == "not_found" {
		return false, ErrNotFound
	}
	return res == "was", nil
}

// Pinned implements ProductStore.
func (s *RedisStore) Pinned(ctx context.Context, stream string) (Product, error) {
	products, _, pinned := s.productKeys(stream)
	res, data, err := s.runScript(ctx, "pinned product of "+stream, pinnedProductScript, []string{products, pinned})
	if err != nil {
		return Product{}, err
	}
	if res != "ok" || len(data) != 1 {
		return Product{}, ErrNotFound
	}
	return decodeProduct(data[0])
}

// MarkProductClick implements ProductStore: SET NX with the window as its expiry.
func (s *RedisStore) MarkProductClick(ctx context.Context, stream, id, user string) (bool, error) {
	key := s.streamSubKey(stream, "product-click:"+id+":"+user)
	ok, err := s.rdb.SetNX(ctx, key, 1, ProductClickWindow).Result()
	if err != nil {
		return false, unavailable("mark click on "+id+" of "+stream, err)
	}
	return ok, nil
}

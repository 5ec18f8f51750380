package engagement

import (
	"context"
	"sync"
)

// salesMemory is MemoryStore's SalesStore, under a lock of its own. A stream's sales go StreamTTL after the
// last write to them (dropped by the next prune).
type salesMemory struct {
	mu     sync.Mutex
	life   *memLife
	prune  memPrune
	sheets map[string]*memSales // stream → its sales
}

var _ SalesStore = (*salesMemory)(nil)

type memSales struct {
	orders, gmv int64
	orderByID   map[string]*memOrder
	buyers      map[string]bool
	viewers     map[string]bool // exact: bounded by the stream's lifetime
	products    map[string]*ProductSales
}

type memOrder struct {
	order    SaleOrder
	refunded bool
}

func newSalesMemory(life *memLife) *salesMemory {
	return &salesMemory{life: life, prune: newMemPrune(), sheets: map[string]*memSales{}}
}

// sheet records a write to stream's sales and returns them, created if need be.
func (m *salesMemory) sheet(stream string) *memSales {
	if gone := m.prune.write(stream, m.life.now(), m.life.ttl); gone != nil {
		dropStreams(m.sheets, gone)
	}
	sh := m.sheets[stream]
	if sh == nil {
		sh = &memSales{orderByID: map[string]*memOrder{}, buyers: map[string]bool{}, viewers: map[string]bool{}, products: map[string]*ProductSales{}}
		m.sheets[stream] = sh
	}
	return sh
}

func (sh *memSales) product(id string) *ProductSales {
	p := sh.products[id]
	if p == nil {
		p = &ProductSales{ProductID: id}
		sh.products[id] = p
	}
	return p
}

// apply adds (sign 1) or subtracts (sign -1) an order's counters, the buyer aside.
func (sh *memSales) apply(o SaleOrder, sign int64) {
	sh.orders += sign
	sh.gmv += sign * o.AmountFen
	for _, it := range o.Items {
		p := sh.product(it.ProductID)
		p.Orders += sign
		p.Units += sign * it.Qty
		p.GMVFen += sign * it.Qty * it.PriceFen
	}
}

// RecordSale implements SalesStore.
func (m *salesMemory) RecordSale(_ context.Context, stream string, o SaleOrder) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.sheet(stream)
	if _, ok := sh.orderByID[o.ID]; ok {
		return false, nil
	}
	o.Items = append([]SaleItem(nil), o.Items...)
	sh.orderByID[o.ID] = &memOrder{order: o}
	sh.buyers[o.User] = true
	sh.apply(o, 1)
	return true, nil
}

// RefundSale implements SalesStore.
func (m *salesMemory) RefundSale(_ context.Context, stream, orderID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.sheet(stream)
	mo := sh.orderByID[orderID]
	if mo == nil || mo.refunded {
		return false, nil
	}
	mo.refunded = true
	sh.apply(mo.order, -1)
	return true, nil
}

// CountSaleClick implements SalesStore.
func (m *salesMemory) CountSaleClick(_ context.Context, stream, productID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sheet(stream).product(productID).Clicks++
	return nil
}

// CountSaleViewer implements SalesStore.
func (m *salesMemory) CountSaleViewer(_ context.Context, stream, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sheet(stream).viewers[user] = true
	return nil
}

// Sales implements SalesStore.
func (m *salesMemory) Sales(_ context.Context, stream string) (Sales, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sa := Sales{Stream: stream, Products: []ProductSales{}}
	sh := m.sheets[stream]
	if sh == nil {
		return sa, nil
	}
	sa.Orders, sa.GMVFen, sa.Buyers, sa.Viewers = sh.orders, sh.gmv, int64(len(sh.buyers)), int64(len(sh.viewers))
	for _, p := range sh.products {
		sa.Products = append(sa.Products, *p)
	}
	return sa, nil
}

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
	buyers      map[string]int  // user → their orders not refunded whole
	viewers     map[string]bool // exact: bounded by the stream's lifetime
	products    map[string]*ProductSales
}

type memOrder struct {
	order    SaleOrder
	refunds  map[string]bool  // refund ids counted
	left     int64            // GMV not refunded yet
	units    map[string]int64 // product → units not returned yet
	gmv      map[string]int64 // product → GMV not refunded yet
	refunded bool             // whole
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
		sh = &memSales{orderByID: map[string]*memOrder{}, buyers: map[string]int{}, viewers: map[string]bool{}, products: map[string]*ProductSales{}}
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

// RecordSale implements SalesStore.
func (m *salesMemory) RecordSale(_ context.Context, stream string, o SaleOrder) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.sheet(stream)
	if _, ok := sh.orderByID[o.ID]; ok {
		return false, nil
	}
	o.Items = append([]SaleItem(nil), o.Items...)
	mo := &memOrder{order: o, refunds: map[string]bool{}, left: o.AmountFen, units: map[string]int64{}, gmv: map[string]int64{}}
	sh.orderByID[o.ID] = mo
	sh.buyers[o.User]++
	sh.orders++
	sh.gmv += o.AmountFen
	for _, it := range o.Items {
		p := sh.product(it.ProductID)
		p.Orders++
		p.Units += it.Qty
		p.GMVFen += it.Qty * it.PriceFen
		mo.units[it.ProductID] += it.Qty
		mo.gmv[it.ProductID] += it.Qty * it.PriceFen
	}
	return true, nil
}

// RefundSale implements SalesStore.
func (m *salesMemory) RefundSale(_ context.Context, stream string, r SaleRefund) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.sheet(stream)
	mo := sh.orderByID[r.OrderID]
	if mo == nil || mo.refunded || mo.refunds[r.ID] {
		return false, nil
	}
	mo.refunds[r.ID] = true
	amount := min(max(r.AmountFen, 0), mo.left)
	if r.Full {
		amount = mo.left
	}
	mo.left -= amount
	sh.gmv -= amount
	for _, it := range r.Items {
		units, gmv := min(it.Qty, mo.units[it.ProductID]), min(it.Qty*it.PriceFen, mo.gmv[it.ProductID])
		if _, ok := mo.units[it.ProductID]; !ok {
			continue // not in the order
		}
		p := sh.product(it.ProductID)
		p.Units -= units
		p.GMVFen -= gmv
		mo.units[it.ProductID] -= units
		mo.gmv[it.ProductID] -= gmv
	}
	if r.Full {
		mo.refunded = true
		sh.orders--
		for _, it := range mo.order.Items {
			p := sh.product(it.ProductID)
			p.Orders--
			p.Units -= mo.units[it.ProductID]
			p.GMVFen -= mo.gmv[it.ProductID]
			mo.units[it.ProductID], mo.gmv[it.ProductID] = 0, 0
		}
		if sh.buyers[mo.order.User]--; sh.buyers[mo.order.User] <= 0 {
			delete(sh.buyers, mo.order.User)
		}
	}
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

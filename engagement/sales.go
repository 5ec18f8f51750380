package engagement

import (
	"context"
	"fmt"
)

// Sales per show: what a stream sold, kept as the calls that publish the events happen (a purchase
// attributed to the stream, a counted product click, a viewer joining), so that the host panel can show it
// live without reading the event topic.
//
// Choices (docs/protocol.md, "Sales per show"):
//   - An order counts once: the store keeps the stream's order ids, so a replayed purchase counts nothing.
//   - A refund subtracts what it refunds from GMV, and the units and GMV of the items it names from their
//     products (a refund by amount alone names none). The refund that makes the order refunded whole also
//     subtracts the order (orders and its products' orders) and whatever of its products' units and GMV is
//     left; the buyer stops counting when every order of theirs in the stream is refunded whole. Each
//     refund counts once (by its id within the order). Clicks stay.
//   - Viewers are the users who joined as viewers (hosts, admins and the shop are not the audience). Memory
//     keeps an exact set (bounded by the stream's lifetime, StreamTTL after the last write); Redis a
//     HyperLogLog (12 KB at most however large the audience; about 0.81 % standard error, exact enough for a
//     panel, and exact for small audiences).
//   - Clicks are the counted ones: one per viewer per product per ProductClickWindow.
//   - A product with no click and no order is left out of the products list; orders for a product no longer
//     (or never) on the shelf keep their product id with an empty title.

// SaleItem is one line of an order: a product, how many units and the unit price paid, in fen.
type SaleItem struct {
	ProductID string `json:"product_id"`
	Qty       int64  `json:"qty"`
	PriceFen  int64  `json:"price_fen"`
}

// SaleRefund is a refund of a counted order, as the sales store counts it.
type SaleRefund struct {
	OrderID   string
	ID        string     // the refund's id within the order; wholeRefundID for the refund of what is left
	AmountFen int64      // what it refunds
	Items     []SaleItem // the units it returns at the price paid (optional)
	Full      bool       // the order is refunded whole with it
}

// MaxSaleQty bounds the units of one line; MaxSaleItems the lines of one order.
const (
	MaxSaleQty   = 999
	MaxSaleItems = 100
)

// SaleOrder is an order as the sales store counts it.
type SaleOrder struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	AmountFen int64      `json:"amount_fen"`
	Items     []SaleItem `json:"items,omitempty"`
}

// ProductSales is one product's part of a stream's sales.
type ProductSales struct {
	ProductID string `json:"product_id"`
	Title     string `json:"title"`
	Clicks    int64  `json:"clicks"`
	Orders    int64  `json:"orders"`
	Units     int64  `json:"units"`
	GMVFen    int64  `json:"gmv_fen"`
}

// Sales is a stream's sales so far.
type Sales struct {
	Stream  string `json:"stream"`
	Orders  int64  `json:"orders"`
	Buyers  int64  `json:"buyers"`
	GMVFen  int64  `json:"gmv_fen"`
	Viewers int64  `json:"viewers"`
	// Conversion is Buyers ÷ Viewers, 0 when there are no viewers.
	Conversion float64        `json:"conversion"`
	Products   []ProductSales `json:"products"`
}

// SalesStore keeps each stream's sales counters. They live StreamTTL after the stream's last sales write.
type SalesStore interface {
	// RecordSale counts an order of the stream: orders +1, the buyer, GMV + AmountFen and per product of its
	// items orders +1, units + Qty and GMV + Qty×PriceFen. Atomic and idempotent by order id: counted is
	// false, and nothing changes, when the order id was counted before (refunded or not).
	RecordSale(ctx context.Context, stream string, o SaleOrder) (counted bool, err error)
	// RefundSale subtracts a refund of a counted order as the package comment says (never below what the
	// order added). Atomic and once per (order, refund id): applied is false when the order was not counted,
	// the refund was counted before, or the order is refunded whole already.
	RefundSale(ctx context.Context, stream string, r SaleRefund) (applied bool, err error)
	// CountSaleClick adds a counted click on a product.
	CountSaleClick(ctx context.Context, stream, productID string) error
	// CountSaleViewer adds user to the stream's viewers (a user counts once).
	CountSaleViewer(ctx context.Context, stream, user string) error
	// Sales returns the counters: Stream, Orders, Buyers, GMVFen, Viewers and Products (by product id, no
	// title, in any order); the Service fills the rest.
	Sales(ctx context.Context, stream string) (Sales, error)
}

// checkItems checks an order's items and returns their sum Σ qty×price_fen.
func checkItems(items []SaleItem) (int64, error) {
	if len(items) > MaxSaleItems {
		return 0, Invalid("items", "an order has at most %d items", MaxSaleItems)
	}
	var sum int64
	seen := map[string]bool{}
	for i, it := range items {
		if !validProductID(it.ProductID) {
			return 0, Invalid("items", "items[%d].product_id must be 1..%d characters of A-Z, a-z, 0-9, _ and -", i, MaxProductIDLen)
		}
		if seen[it.ProductID] {
			return 0, Invalid("items", "items[%d].product_id %q appears twice", i, it.ProductID)
		}
		seen[it.ProductID] = true
		if it.Qty < 1 || it.Qty > MaxSaleQty {
			return 0, Invalid("items", "items[%d].qty must be 1..%d", i, MaxSaleQty)
		}
		if it.PriceFen < 1 || it.PriceFen > MaxPriceFen {
			return 0, Invalid("items", "items[%d].price_fen must be 1..%d", i, MaxPriceFen)
		}
		sum += it.Qty * it.PriceFen
		if sum > maxAmountFen {
			return 0, Invalid("items", "the items add up to more than %d fen", int64(maxAmountFen))
		}
	}
	return sum, nil
}

// StreamSales returns a stream's sales to its host, an admin or the shop's backend.
func (s *Service) StreamSales(ctx context.Context, actor Actor, stream string) (Sales, error) {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return Sales{}, err
	}
	if !actor.CanHost(st) && actor.Role != RoleService {
		return Sales{}, Errorf(CodeForbidden, "only the host of stream %q, an admin or the shop sees its sales", stream)
	}
	sa, err := s.store.Sales(ctx, stream)
	if err != nil {
		return Sales{}, fmt.Errorf("sales of %s: %w", stream, err)
	}
	sa.Stream = stream
	if sa.Viewers > 0 {
		sa.Conversion = float64(sa.Buyers) / float64(sa.Viewers)
	}
	shelf, err := s.store.Products(ctx, stream)
	if err != nil {
		return Sales{}, fmt.Errorf("products of %s: %w", stream, err)
	}
	// Shelf order first, then the products no longer on the shelf by id.
	byID := map[string]ProductSales{}
	for _, p := range sa.Products {
		byID[p.ProductID] = p
	}
	out := make([]ProductSales, 0, len(byID))
	for _, p := range shelf {
		if ps, ok := byID[p.ID]; ok {
			ps.Title = p.Title
			out = append(out, ps)
			delete(byID, p.ID)
		}
	}
	rest := make([]ProductSales, 0, len(byID))
	for _, ps := range byID {
		rest = append(rest, ps)
	}
	sortProductSales(rest)
	sa.Products = append(out, rest...)
	return sa, nil
}

func sortProductSales(ps []ProductSales) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].ProductID < ps[j-1].ProductID; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// countSale counts a recorded purchase in its stream's sales; a failure is logged, never the purchase's.
func (s *Service) countSale(ctx context.Context, stream string, o SaleOrder) {
	if stream == "" {
		return
	}
	if _, err := s.store.RecordSale(ctx, stream, o); err != nil {
		s.log.Warn("count sale", "stream", stream, "order", o.ID, "err", err)
	}
}

// refundSale subtracts a refund from the sales of the stream its order was attributed to (the ledger keeps
// the order's stream); a failure is logged, never the refund's.
func (s *Service) refundSale(ctx context.Context, stream string, r SaleRefund) {
	if stream == "" {
		return
	}
	if _, err := s.store.RefundSale(ctx, stream, r); err != nil {
		s.log.Warn("refund sale", "stream", stream, "order", r.OrderID, "err", err)
	}
}

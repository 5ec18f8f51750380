package engagement

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Product shelf (购物袋) limits.
const (
	// MaxProducts is how many products a stream's shelf holds; adding one more is refused closed.
	MaxProducts          = 200
	MaxProductIDLen      = 64
	MaxProductTitleRunes = 80
	MaxProductURLLen     = 2048
	// MaxPriceFen is the highest price, in fen (100 million yuan).
	MaxPriceFen int64 = 10_000_000_000
	// ProductClickWindow is how long after a viewer's counted click on a product further clicks of theirs on
	// it write no event.
	ProductClickWindow = time.Minute
)

// Product is an item on a stream's shelf, as the shop describes it. Prices are in fen.
type Product struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// PriceFen is the price now, 1..MaxPriceFen.
	PriceFen int64 `json:"price_fen"`
	// ListPriceFen is the crossed-out list price (0: none); never below PriceFen.
	ListPriceFen int64 `json:"list_price_fen,omitempty"`
	// ImageURL is an https URL or a path of this server ("/…"); "" for none.
	ImageURL string `json:"image_url,omitempty"`
	// URL is where the product is bought: http or https.
	URL string `json:"url"`
}

// validProductID reports whether id is 1..MaxProductIDLen characters of [A-Za-z0-9_-].
func validProductID(id string) bool {
	if id == "" || len(id) > MaxProductIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// checkURL reports whether raw is an absolute URL of one of schemes with a host, at most MaxProductURLLen
// bytes and free of spaces and control characters.
func checkURL(raw string, schemes ...string) bool {
	if raw == "" || len(raw) > MaxProductURLLen || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return true
		}
	}
	return false
}

// clean checks a product as given by the host or the shop and returns it with its title trimmed.
func (p Product) clean() (Product, error) {
	if !validProductID(p.ID) {
		return p, Invalid("id", "id must be 1..%d characters of A-Z, a-z, 0-9, _ and -", MaxProductIDLen)
	}
	title, err := CleanText("title", p.Title, MaxProductTitleRunes)
	if err != nil {
		return p, err
	}
	p.Title = title
	if p.PriceFen < 1 || p.PriceFen > MaxPriceFen {
		return p, Invalid("price_fen", "price_fen must be 1..%d", MaxPriceFen)
	}
	if p.ListPriceFen != 0 && (p.ListPriceFen < p.PriceFen || p.ListPriceFen > MaxPriceFen) {
		return p, Invalid("list_price_fen", "list_price_fen must be at least price_fen (%d) and at most %d", p.PriceFen, MaxPriceFen)
	}
	if !checkURL(p.URL, "http", "https") {
		return p, Invalid("url", "url must be an http or https URL of at most %d bytes", MaxProductURLLen)
	}
	if p.ImageURL != "" && !checkURL(p.ImageURL, "https") && !localPath(p.ImageURL) {
		return p, Invalid("image_url", "image_url must be an https URL or a path starting with / of at most %d bytes", MaxProductURLLen)
	}
	return p, nil
}

// localPath reports whether raw is a path of this server: "/…" (not "//", another host), short, no spaces.
func localPath(raw string) bool {
	if len(raw) > MaxProductURLLen || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.Contains(raw, `\`) ||
		strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// productError words a ProductStore rejection about product id for the user; other errors pass unchanged.
func productError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no product %q on this stream's shelf", id)
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "product %q is already on the shelf", id)
	case errors.Is(err, ErrFull):
		return Errorf(CodeClosed, "the shelf holds at most %d products: remove one first", MaxProducts)
	}
	return err
}

// ProductClick is the product.click client action: a viewer opened a product.
type ProductClick struct {
	ProductID string `json:"product_id"`
}

// FrameType implements Action.
func (ProductClick) FrameType() string { return "product.click" }

func (a *ProductClick) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.ClickProduct(ctx, actor, stream, a.ProductID)
}

// shelfStream returns a stream whose shelf actor may change: its host (CanHost) or the shop's backend.
func (s *Service) shelfStream(ctx context.Context, actor Actor, id string) (Stream, error) {
	st, err := s.Stream(ctx, id)
	if err != nil {
		return Stream{}, err
	}
	if !actor.CanHost(st) && actor.Role != RoleService {
		return Stream{}, Errorf(CodeForbidden, "you do not host stream %q", id)
	}
	return st, nil
}

// doAddProduct is AddProduct, less the admission and the publication of its events.
func (s *Service) doAddProduct(ctx context.Context, actor Actor, stream string, p Product) (Product, error) {
	if _, err := s.shelfStream(ctx, actor, stream); err != nil {
		return Product{}, err
	}
	p, err := p.clean()
	if err != nil {
		return Product{}, err
	}
	if err := s.store.AddProduct(ctx, stream, p, MaxProducts); err != nil {
		return Product{}, fmt.Errorf("add product %s to %s: %w", p.ID, stream, productError(err, p.ID))
	}
	s.emit(ctx, EventProductAdded, stream, actor.User, map[string]any{
		"product_id": p.ID, "stream": stream, "title": p.Title, "price_fen": p.PriceFen,
	})
	return p, nil
}

// Products returns a stream's shelf in the order the products were added.
func (s *Service) Products(ctx context.Context, stream string) ([]Product, error) {
	if _, err := s.Stream(ctx, stream); err != nil {
		return nil, err
	}
	ps, err := s.store.Products(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("products of %s: %w", stream, err)
	}
	if ps == nil {
		ps = []Product{}
	}
	return ps, nil
}

// doRemoveProduct is RemoveProduct (act.go), less the admission and the publication of its events.
func (s *Service) doRemoveProduct(ctx context.Context, actor Actor, stream, productID string) (Outcome, error) {
	if _, err := s.shelfStream(ctx, actor, stream); err != nil {
		return Outcome{}, err
	}
	if !validProductID(productID) {
		return Outcome{}, productError(ErrNotFound, productID)
	}
	pinned, err := s.store.RemoveProduct(ctx, stream, productID)
	if err != nil {
		return Outcome{}, fmt.Errorf("remove product %s from %s: %w", productID, stream, productError(err, productID))
	}
	out := Outcome{Stream: stream}
	if pinned {
		out.Broadcast = append(out.Broadcast, unpinnedFrame(productID))
		s.emit(ctx, EventProductUnpinned, stream, actor.User, map[string]any{"product_id": productID, "stream": stream, "removed": true})
	}
	s.emit(ctx, EventProductRemoved, stream, actor.User, map[string]any{"product_id": productID, "stream": stream})
	return out, nil
}

// doPinProduct is PinProduct (act.go), less the admission and the publication of its events.
func (s *Service) doPinProduct(ctx context.Context, actor Actor, stream, productID string) (Product, Outcome, error) {
	st, err := s.shelfStream(ctx, actor, stream)
	if err != nil {
		return Product{}, Outcome{}, err
	}
	if !st.Live() {
		return Product{}, Outcome{}, Errorf(CodeClosed, "stream %q has ended", stream)
	}
	if !validProductID(productID) {
		return Product{}, Outcome{}, productError(ErrNotFound, productID)
	}
	p, err := s.store.PinProduct(ctx, stream, productID)
	if err != nil {
		return Product{}, Outcome{}, fmt.Errorf("pin product %s on %s: %w", productID, stream, productError(err, productID))
	}
	s.emit(ctx, EventProductPinned, stream, actor.User, map[string]any{"product_id": p.ID, "stream": stream})
	out := Outcome{Stream: stream, Broadcast: []Frame{{Type: "product.pinned", Data: map[string]any{"product": p}}}, Delay: st.videoDelay()}
	return p, out, nil
}

// doUnpinProduct is UnpinProduct (act.go), less the admission and the publication of its events.
func (s *Service) doUnpinProduct(ctx context.Context, actor Actor, stream, productID string) (Outcome, error) {
	if _, err := s.shelfStream(ctx, actor, stream); err != nil {
		return Outcome{}, err
	}
	if !validProductID(productID) {
		return Outcome{}, productError(ErrNotFound, productID)
	}
	was, err := s.store.UnpinProduct(ctx, stream, productID)
	if err != nil {
		return Outcome{}, fmt.Errorf("unpin product %s on %s: %w", productID, stream, productError(err, productID))
	}
	out := Outcome{Stream: stream}
	if was {
		out.Broadcast = append(out.Broadcast, unpinnedFrame(productID))
		s.emit(ctx, EventProductUnpinned, stream, actor.User, map[string]any{"product_id": productID, "stream": stream, "removed": false})
	}
	return out, nil
}

func unpinnedFrame(id string) Frame {
	return Frame{Type: "product.unpinned", Data: map[string]any{"product_id": id}}
}

// ClickProduct records that actor opened a product of the shelf: one product.clicked event per viewer per
// product per ProductClickWindow; further clicks are acknowledged and write nothing.
func (s *Service) ClickProduct(ctx context.Context, actor Actor, stream, productID string) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actClick); err != nil {
		return Outcome{}, err
	}
	if productID == "" {
		return Outcome{}, Invalid("product_id", "product_id is required")
	}
	if !validProductID(productID) {
		return Outcome{}, productError(ErrNotFound, productID)
	}
	if _, err := s.store.Product(ctx, stream, productID); err != nil {
		return Outcome{}, fmt.Errorf("click product %s: %w", productID, productError(err, productID))
	}
	first, err := s.store.MarkProductClick(ctx, stream, productID, actor.User)
	if err != nil {
		return Outcome{}, fmt.Errorf("click product %s: %w", productID, err)
	}
	if first {
		if err := s.store.CountSaleClick(ctx, stream, productID); err != nil {
			s.log.Warn("count click", "stream", stream, "product", productID, "err", err)
		}
		s.emit(ctx, EventProductClicked, stream, actor.User, map[string]any{"stream": stream, "product_id": productID})
	}
	return Outcome{Stream: stream}, nil
}

func roomProduct(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	p, err := s.store.Pinned(ctx, st.ID)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			return fmt.Errorf("pinned product of %s: %w", st.ID, err)
		}
		return nil
	}
	w.Product = p
	return nil
}

// ProductStore keeps each stream's shelf: its products in the order added, the pinned one, and the click
// marks. Product ids are validProductID.
type ProductStore interface {
	// AddProduct appends p to the shelf. Atomic: ErrDuplicate if its id is on the shelf, ErrFull if the
	// shelf already holds max products; the check and the append are one step, so concurrent adds never
	// pass the cap nor store an id twice.
	AddProduct(ctx context.Context, stream string, p Product, max int) error
	// Products returns the shelf in the order added (empty if none).
	Products(ctx context.Context, stream string) ([]Product, error)
	// Product returns a product of the shelf, or ErrNotFound.
	Product(ctx context.Context, stream, id string) (Product, error)
	// RemoveProduct takes a product off the shelf, and unpins it if it was pinned (pinned reports that).
	// Atomic. ErrNotFound if it is not on the shelf.
	RemoveProduct(ctx context.Context, stream, id string) (pinned bool, err error)
	// PinProduct makes a product of the shelf the pinned one (replacing any other) and returns it. Atomic:
	// ErrNotFound if it is not on the shelf.
	PinProduct(ctx context.Context, stream, id string) (Product, error)
	// UnpinProduct unpins the product if it is the pinned one; was reports whether it was. Atomic:
	// ErrNotFound if it is not on the shelf.
	UnpinProduct(ctx context.Context, stream, id string) (was bool, err error)
	// Pinned returns the pinned product, or ErrNotFound if there is none.
	Pinned(ctx context.Context, stream string) (Product, error)
	// MarkProductClick marks user's click on a product and reports whether it is the first in
	// ProductClickWindow (the mark lives that long on the store's clock). Atomic: of concurrent clicks, one
	// is first.
	MarkProductClick(ctx context.Context, stream, id, user string) (first bool, err error)
}

package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// couponCode answers the shop's checkout: the record of a claimed code (404 for any other).
func (a *API) couponCode(c echo.Context) error {
	r, err := a.svc.CouponByCode(c.Request().Context(), actorOf(c), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// redeemCouponCode redeems a claimed code for an order: 200 the first time and on every replay by the same
// order.
func (a *API) redeemCouponCode(c echo.Context) error {
	var req struct {
		OrderID string `json:"order_id"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	r, err := a.svc.RedeemCouponCode(c.Request().Context(), actorOf(c), c.Param("code"), req.OrderID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// userCoupons lists a user's coupon codes ("My coupons") with their state at the checkout: the user
// themself, the shop's backend or an admin.
func (a *API) userCoupons(c echo.Context) error {
	cs, err := a.svc.MyCoupons(c.Request().Context(), actorOf(c), c.Param("uid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"coupons": cs})
}

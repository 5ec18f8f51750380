package httpapi

import (
	"net/http"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

func (a *API) addProduct(c echo.Context) error {
	var p engagement.Product
	if err := bind(c, &p); err != nil {
		return err
	}
	p, err := a.svc.AddProduct(c.Request().Context(), actorOf(c), c.Param("id"), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

func (a *API) listProducts(c echo.Context) error {
	ps, err := a.svc.Products(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ps)
}

func (a *API) removeProduct(c echo.Context) error {
	out, err := a.svc.RemoveProduct(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("pid"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.NoContent(http.StatusNoContent)
}

func (a *API) pinProduct(c echo.Context) error {
	p, out, err := a.svc.PinProduct(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("pid"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, p)
}

func (a *API) unpinProduct(c echo.Context) error {
	out, err := a.svc.UnpinProduct(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("pid"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.NoContent(http.StatusNoContent)
}

func (a *API) streamSales(c echo.Context) error {
	sa, err := a.svc.StreamSales(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sa)
}

package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

// timeline is a page of an ended stream's replay timeline.
func (a *API) timeline(c echo.Context) error {
	var q engagement.TimelineQuery
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &q.FromMS}, {"to", &q.ToMS}} {
		if v := c.QueryParam(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return engagement.Invalid(p.name, "%s must be an offset in ms", p.name)
			}
			*p.dst = n
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return engagement.Invalid("limit", "limit must be a positive number")
		}
		q.Limit = n
	}
	q.Cursor = c.QueryParam("cursor")
	page, err := a.svc.Timeline(c.Request().Context(), c.Param("id"), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// replayAnswer is quiz.answer for someone watching an ended stream's replay.
func (a *API) replayAnswer(c echo.Context) error {
	var req engagement.QuizAnswer
	if err := bind(c, &req); err != nil {
		return err
	}
	out, err := a.svc.ReplayAnswer(c.Request().Context(), actorOf(c), c.Param("id"), req.QuizID, req.QuestionID, req.Choice)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, out.Reply)
}

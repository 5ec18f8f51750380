package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/kudos-live/kudos/engagement"
)

// optionalActor returns the actor of the request's bearer token, or a zero Actor without one; a token that
// is present but invalid is refused.
func (a *API) optionalActor(c echo.Context) (engagement.Actor, error) {
	tok, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || tok == "" {
		return engagement.Actor{}, nil
	}
	return a.tokens.Verify(tok)
}

// listQuestions is the Q&A list: anyone sees the visible questions; the stream's host sees hidden ones too.
func (a *API) listQuestions(c echo.Context) error {
	actor, err := a.optionalActor(c)
	if err != nil {
		return err
	}
	list, err := a.svc.Questions(c.Request().Context(), actor, c.Param("id"), 0)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// markQuestion pins, answers or hides a question; a body {"<flag>": false} undoes it.
func (a *API) markQuestion(action, flag string) echo.HandlerFunc {
	return func(c echo.Context) error {
		on := true
		if c.Request().ContentLength != 0 {
			var body map[string]bool
			if err := bind(c, &body); err != nil {
				return err
			}
			if v, ok := body[flag]; ok {
				on = v
			}
		}
		q, out, err := a.svc.MarkQuestion(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("qid"), action, on)
		if err != nil {
			return err
		}
		a.deliver(c, out)
		return c.JSON(http.StatusOK, q)
	}
}

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

// notify sends a capped notification to users or a stream's audience.
func (a *API) notify(c echo.Context) error {
	var spec engagement.NotificationSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	res, outs, err := a.svc.Notify(c.Request().Context(), actorOf(c), spec)
	for _, out := range outs {
		a.deliver(c, out)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

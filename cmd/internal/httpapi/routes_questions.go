package httpapi

import (
	"net/http"
	"strings"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
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

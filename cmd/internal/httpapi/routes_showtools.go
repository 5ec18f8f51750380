package httpapi

import (
	"net/http"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

func (a *API) openPoll(c echo.Context) error {
	var spec engagement.PollSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	p, out, err := a.svc.OpenPoll(c.Request().Context(), actorOf(c), c.Param("id"), spec)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusCreated, p)
}

func (a *API) getPoll(c echo.Context) error {
	p, err := a.svc.Poll(c.Request().Context(), c.Param("id"), c.Param("pid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (a *API) closePoll(c echo.Context) error {
	p, out, err := a.svc.ClosePoll(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("pid"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, p)
}

func (a *API) createQuiz(c echo.Context) error {
	var spec engagement.QuizSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	q, err := a.svc.CreateQuiz(c.Request().Context(), actorOf(c), c.Param("id"), spec)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, q)
}

func (a *API) getQuiz(c echo.Context) error {
	q, err := a.svc.Quiz(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("qid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, q)
}

// finishedQuiz is the answer to "next" after the last question: the final leaderboard.
type finishedQuiz struct {
	Status string `json:"status"`
	engagement.QuizLeaderboard
}

func (a *API) nextQuestion(c echo.Context) error {
	step, out, err := a.svc.NextQuestion(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("qid"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	if step.Question != nil {
		return c.JSON(http.StatusOK, step.Question)
	}
	return c.JSON(http.StatusOK, finishedQuiz{Status: step.Status, QuizLeaderboard: *step.Leaderboard})
}

func (a *API) dropCoupon(c echo.Context) error {
	var spec engagement.CouponSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	cp, out, err := a.svc.DropCoupon(c.Request().Context(), actorOf(c), c.Param("id"), spec)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusCreated, cp)
}

func (a *API) openDraw(c echo.Context) error {
	var spec engagement.DrawSpec
	if err := bind(c, &spec); err != nil {
		return err
	}
	d, out, err := a.svc.OpenDraw(c.Request().Context(), actorOf(c), c.Param("id"), spec)
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusCreated, d) // the seed is never marshalled
}

func (a *API) runDraw(c echo.Context) error {
	res, out, err := a.svc.RunDraw(c.Request().Context(), actorOf(c), c.Param("id"), c.Param("did"))
	if err != nil {
		return err
	}
	a.deliver(c, out)
	return c.JSON(http.StatusOK, res)
}

func (a *API) feedbackSummary(c echo.Context) error {
	sum, err := a.svc.FeedbackSummary(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sum)
}

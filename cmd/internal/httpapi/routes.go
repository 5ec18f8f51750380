package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/static"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// apiPrefix is where the REST API lives; its routes take the body limit and CORS, and openapi.json
// documents every one of them.
const apiPrefix = "/api/v1"

// access is who may call a route.
type access int

const (
	anyone access = iota // no token, or one the handler checks itself
	bearer               // a valid bearer token (auth); openapi.json declares bearer security
	// The next ones are bearer plus the one policy (engagement), checked before the handler reads a body:
	hostOf  // the host of the stream in :id, or an admin (Service.AuthorizeStream)
	staffOf // hostOf, or the shop's backend (the shelf, the sales)
	shop    // the shop's backend or an admin (engagement.RequireShop)
)

// route is one endpoint of the server.
type route struct {
	method  string
	path    string // echo syntax (:id, *)
	handler echo.HandlerFunc
	access  access
}

// routes lists every route of the server, in one place; New mounts them and TestOpenAPIMatchesRoutes holds
// openapi.json to the /api/v1 ones. A new route is added here, its handler in its concept's file.
func (a *API) routes() []route {
	pages, _ := fs.Sub(static.FS, ".")
	return []route{
		// Probes, metrics, the stream socket and the pages.
		{http.MethodGet, "/healthz", healthz, anyone},
		{http.MethodGet, "/readyz", a.readyz, anyone},
		{http.MethodGet, "/metrics", echo.WrapHandler(promhttp.HandlerFor(a.cfg.Gatherer, promhttp.HandlerOpts{})), anyone},
		{http.MethodGet, "/ws/streams/:id", a.websocket, anyone},
		{http.MethodGet, "/", pageHandler(pages, "index.html"), anyone},
		{http.MethodGet, "/host", pageHandler(pages, "host.html"), anyone},
		{http.MethodGet, "/assets/*", echo.WrapHandler(http.FileServerFS(pages)), anyone},
		{http.MethodGet, "/embed/:stream", a.embedPage(pages), anyone}, // routes_embed.go: the room a shop frames
		{http.MethodGet, "/sdk/*", a.withCORS(sdkHandler(pages)), anyone},
		{http.MethodOptions, "/sdk/*", a.withCORS(noContent), anyone}, // CORS preflight, for KUDOS_ALLOWED_ORIGINS only

		// Tokens and streams.
		{http.MethodPost, "/api/v1/tokens/guest", a.guestToken, anyone},
		{http.MethodPost, "/api/v1/streams", a.createStream, bearer},
		{http.MethodGet, "/api/v1/streams/:id", a.getStream, anyone},
		{http.MethodPatch, "/api/v1/streams/:id", a.updateStream, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/end", a.endStream, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/moderation", a.moderate, hostOf},
		{http.MethodGet, "/api/v1/streams/:id/moderation", a.getModeration, hostOf},

		// Host tools: polls, quizzes, coupon drops (and, for the shop's checkout, their codes), lucky draws and
		// the feedback summary.
		{http.MethodPost, "/api/v1/streams/:id/polls", a.openPoll, hostOf},
		{http.MethodGet, "/api/v1/streams/:id/polls/:pid", a.getPoll, anyone},
		{http.MethodPost, "/api/v1/streams/:id/polls/:pid/close", a.closePoll, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/quizzes", a.createQuiz, hostOf},
		{http.MethodGet, "/api/v1/streams/:id/quizzes/:qid", a.getQuiz, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/quizzes/:qid/next", a.nextQuestion, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/coupons", a.dropCoupon, hostOf},
		{http.MethodGet, "/api/v1/coupons/codes/:code", a.couponCode, shop},
		{http.MethodPost, "/api/v1/coupons/codes/:code/redeem", a.redeemCouponCode, shop},
		{http.MethodPost, "/api/v1/streams/:id/draws", a.openDraw, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/draws/:did/run", a.runDraw, hostOf},
		{http.MethodGet, "/api/v1/streams/:id/feedback", a.feedbackSummary, hostOf},
		{http.MethodPost, "/api/v1/streams/:id/feedback/prompt", a.promptFeedback, hostOf}, // routes_feedback.go

		// The product shelf (routes_products.go): anyone reads it; its host, an admin or the shop changes it.
		{http.MethodPost, "/api/v1/streams/:id/products", a.addProduct, staffOf},
		{http.MethodGet, "/api/v1/streams/:id/products", a.listProducts, anyone},
		{http.MethodDelete, "/api/v1/streams/:id/products/:pid", a.removeProduct, staffOf},
		{http.MethodPost, "/api/v1/streams/:id/products/:pid/pin", a.pinProduct, staffOf},
		{http.MethodPost, "/api/v1/streams/:id/products/:pid/unpin", a.unpinProduct, staffOf},
		// Sales per show (routes_products.go): its host, an admin or the shop.
		{http.MethodGet, "/api/v1/streams/:id/sales", a.streamSales, staffOf},

		// Loyalty: purchases, points, rewards and the stream leaderboard.
		{http.MethodPost, "/api/v1/purchases", a.recordPurchase, shop},
		{http.MethodPost, "/api/v1/purchases/:order_id/refund", a.refundPurchase, shop},
		{http.MethodPost, "/api/v1/points/award", a.awardShopPoints, shop},
		{http.MethodGet, "/api/v1/users/:uid/points", a.userPoints, bearer},
		{http.MethodGet, "/api/v1/users/:uid/coupons", a.userCoupons, bearer}, // routes_coupons.go: "My coupons"
		{http.MethodGet, "/api/v1/rewards", a.listRewards, anyone},
		{http.MethodGet, "/api/v1/rules", a.getRules, anyone}, // routes_rules.go: what viewers may see of the rules
		{http.MethodPost, "/api/v1/users/:uid/redemptions", a.redeem, bearer},
		{http.MethodPut, "/api/v1/catalogue", a.putCatalogue, shop},
		{http.MethodPost, "/api/v1/redemptions/:id/fulfil", a.fulfilRedemption, shop},
		{http.MethodGet, "/api/v1/streams/:id/leaderboard", a.leaderboard, bearer},

		// Product Q&A, the replay timeline and capped notifications. The question list reads an optional
		// token itself: the host also sees hidden questions.
		{http.MethodGet, "/api/v1/streams/:id/questions", a.listQuestions, anyone},
		{http.MethodPost, "/api/v1/streams/:id/questions/:qid/pin", a.markQuestion(engagement.QuestionPin, engagement.FlagPinned), bearer},
		{http.MethodPost, "/api/v1/streams/:id/questions/:qid/answer", a.markQuestion(engagement.QuestionAnswer, engagement.FlagAnswered), bearer},
		{http.MethodPost, "/api/v1/streams/:id/questions/:qid/hide", a.markQuestion(engagement.QuestionHide, engagement.FlagHidden), bearer},
		{http.MethodGet, "/api/v1/streams/:id/timeline", a.timeline, anyone},
		{http.MethodPost, "/api/v1/streams/:id/replay/answers", a.replayAnswer, bearer},
		{http.MethodPost, "/api/v1/notifications", a.notify, bearer},

		// Personal data (routes_privacy.go): a user's export and erasure.
		{http.MethodGet, "/api/v1/users/:uid/export", a.exportUser, bearer},
		{http.MethodDelete, "/api/v1/users/:uid", a.eraseUser, bearer},

		// This API's own description.
		{http.MethodGet, "/api/v1/openapi.json", serveOpenAPI, anyone},
	}
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/kudos-live/kudos/engagement"
	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem body with the stable Kudos code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	// Reason refines a forbidden code: "erased" for the token of an erased user.
	Reason string `json:"reason,omitempty"`
}

// problemTypeBase prefixes the problem type URI; the code completes it.
const problemTypeBase = "https://kudos.dev/problems/"

// statusOf is the one mapping from stable codes to HTTP statuses.
var statusOf = map[engagement.Code]int{
	engagement.CodeBadFrame:     http.StatusBadRequest,
	engagement.CodeUnknownType:  http.StatusBadRequest,
	engagement.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	engagement.CodeRateLimited:  http.StatusTooManyRequests,
	engagement.CodeUnauthorized: http.StatusUnauthorized,
	engagement.CodeForbidden:    http.StatusForbidden,
	engagement.CodeNotFound:     http.StatusNotFound,
	engagement.CodeClosed:       http.StatusConflict,
	engagement.CodeDuplicate:    http.StatusConflict,
	engagement.CodeInvalid:      http.StatusBadRequest,
	engagement.CodeUnavailable:  http.StatusServiceUnavailable,
	engagement.CodeInternal:     http.StatusInternalServerError,

	engagement.CodeInsufficientPoints: http.StatusConflict,
	engagement.CodeOutOfStock:         http.StatusConflict,
	engagement.CodeConflict:           http.StatusConflict,
	engagement.CodeExpired:            http.StatusConflict,
	engagement.CodeLimitReached:       http.StatusConflict,
}

// codeOfStatus maps echo's own HTTP errors (unknown route, wrong method, body too large) to codes.
func codeOfStatus(status int) engagement.Code {
	switch status {
	case http.StatusNotFound:
		return engagement.CodeNotFound
	case http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return engagement.CodeInvalid
	case http.StatusRequestEntityTooLarge:
		return engagement.CodeTooLarge
	case http.StatusUnauthorized:
		return engagement.CodeUnauthorized
	case http.StatusForbidden:
		return engagement.CodeForbidden
	case http.StatusTooManyRequests:
		return engagement.CodeRateLimited
	case http.StatusServiceUnavailable:
		return engagement.CodeUnavailable
	}
	return engagement.CodeInternal
}

// problemFor turns any error into a problem body; internal details never leave the server.
func problemFor(err error) Problem {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code := codeOfStatus(he.Code)
		detail := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			detail = m
		}
		return Problem{Type: problemTypeBase + string(code), Title: http.StatusText(he.Code), Status: he.Code, Detail: detail, Code: string(code)}
	}
	code := engagement.CodeOf(err)
	status := statusOf[code]
	return Problem{
		Type:   problemTypeBase + string(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: engagement.MessageOf(err),
		Code:   string(code),
		Field:  engagement.FieldOf(err),
		Reason: erasedReason(err),
	}
}

// errorHandler is echo's HTTPErrorHandler: every error leaves as application/problem+json.
func (a *API) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFor(err)
	if p.Status >= 500 {
		a.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "request_id", requestIDOf(c), "err", err)
	}
	b, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method != http.MethodHead {
		_, _ = c.Response().Write(b)
	}
}

// bind decodes a JSON body into v; a malformed body or a wrong type is an invalid-input error naming the field.
func bind(c echo.Context, v any) error {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			return engagement.Errorf(engagement.CodeTooLarge, "body is larger than %d bytes", me.Limit)
		}
		return engagement.Errorf(engagement.CodeInvalid, "body could not be read")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; refuse it instead.
	if !utf8.Valid(raw) {
		return engagement.Errorf(engagement.CodeInvalid, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return engagement.Invalid(te.Field, "%s must be a %s", te.Field, te.Type.Kind())
		}
		return engagement.Errorf(engagement.CodeInvalid, "body is not valid JSON")
	}
	if dec.More() {
		return engagement.Errorf(engagement.CodeInvalid, "body holds more than one JSON value")
	}
	return nil
}

// erasedReason is "erased" for the refusal of an erased user's token (engagement.ErrErased), else "".
func erasedReason(err error) string {
	if errors.Is(err, engagement.ErrErased) {
		return engagement.ReasonOf(err)
	}
	return ""
}

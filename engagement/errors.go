package engagement

import (
	"errors"
	"fmt"
)

// Code is a stable error code of the wire protocol and the HTTP API. Clients switch on it; never rename one.
type Code string

// The stable error codes (docs/protocol.md, "Errors"). This is the one place they are spelled.
const (
	CodeBadFrame     Code = "bad_frame"
	CodeUnknownType  Code = "unknown_type"
	CodeTooLarge     Code = "too_large"
	CodeRateLimited  Code = "rate_limited"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeNotFound     Code = "not_found"
	CodeClosed       Code = "closed"
	CodeDuplicate    Code = "duplicate"
	CodeConflict     Code = "conflict" // the id was used before for something else (an order of another amount)
	CodeExpired      Code = "expired"  // the thing's validity is over (a coupon code past its expiry)
	// CodeLimitReached: a per-user limit is used up (a reward's per_user_limit).
	CodeLimitReached Code = "limit_reached"
	CodeInvalid      Code = "invalid"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// Error is a rejection with a stable code, a message fit for the user, and for invalid input the field at fault.
type Error struct {
	Code    Code
	Message string
	Field   string
	// reason refines a sentinel (ErrNotOpenYet is a closed with reason "not open yet"); "" for most errors.
	reason string
}

func (e *Error) Error() string {
	if e.Message == "" && e.reason != "" {
		return string(e.Code) + ": " + e.reason
	}
	return string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, ErrNotFound) and friends match any *Error of the same code, and a refinement such
// as ErrNotOpenYet match only errors of its own reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && (t.reason == "" || t.reason == e.reason)
}

// Sentinel errors, one per code that stores and callers test for. Match them with errors.Is. Stores return
// these (or a refinement below), never a worded message: the Service words each rejection once, for every
// backend.
var (
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrDuplicate   = &Error{Code: CodeDuplicate}
	ErrClosed      = &Error{Code: CodeClosed}
	ErrForbidden   = &Error{Code: CodeForbidden}
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrUnavailable = &Error{Code: CodeUnavailable}
	ErrConflict    = &Error{Code: CodeConflict}
	ErrExpired     = &Error{Code: CodeExpired}
)

// Refinements of the sentinels, for rejections whose message depends on why. Each also matches its code's
// sentinel: errors.Is(ErrNotOpenYet, ErrClosed) is true.
var (
	// ErrNotOpenYet: the item (poll, coupon, draw, quiz question) opens later, with the video delay.
	ErrNotOpenYet = &Error{Code: CodeClosed, reason: "not open yet"}
	// ErrTimeUp: the item's time is over (a quiz question's deadline, a coupon's expiry).
	ErrTimeUp = &Error{Code: CodeClosed, reason: "time is up"}
	// ErrSoldOut: no stock remains.
	ErrSoldOut = &Error{Code: CodeClosed, reason: "sold out"}
	// ErrFull: the stream holds as many items of the kind as it may.
	ErrFull = &Error{Code: CodeClosed, reason: "full"}
	// ErrStillOpen: another item of the kind is still open (a stream has one open poll).
	ErrStillOpen = &Error{Code: CodeDuplicate, reason: "still open"}
	// ErrOwnItem: a user may not do this to their own item (upvote their own question).
	ErrOwnItem = &Error{Code: CodeForbidden, reason: "own item"}
	// ErrHidden: the item is hidden (a hidden question cannot be pinned).
	ErrHidden = &Error{Code: CodeInvalid, reason: "hidden"}
)

// bare reports whether err is a store's rejection not yet worded for the user: a sentinel above or a
// refinement, possibly wrapped. Worded errors and backend failures (ErrUnavailable) are not bare.
func bare(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Message == "" && e.Code != CodeUnavailable
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an invalid-input error naming the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the stable code of err: its own for an *Error in the chain, internal for anything else.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// MessageOf returns a message safe to show a client: an *Error's own message, or a generic one (internal
// details are logged, never sent).
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Message != "" {
			return e.Message
		}
		if e.reason != "" {
			return e.reason
		}
		return string(e.Code)
	}
	return "internal error"
}

// FieldOf returns the field named by an invalid-input error, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

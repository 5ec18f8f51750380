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
	CodeInvalid      Code = "invalid"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// Error is a rejection with a stable code, a message fit for the user, and for invalid input the field at fault.
type Error struct {
	Code    Code
	Message string
	Field   string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is makes errors.Is(err, ErrNotFound) and friends match any *Error of the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && t.Message == ""
}

// Sentinel errors, one per code that stores and callers test for. Match them with errors.Is.
var (
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrDuplicate   = &Error{Code: CodeDuplicate}
	ErrClosed      = &Error{Code: CodeClosed}
	ErrForbidden   = &Error{Code: CodeForbidden}
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrUnavailable = &Error{Code: CodeUnavailable}
)

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

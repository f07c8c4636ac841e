package model

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BadRequestBody is the message of the error frame API Gateway sends when a
// message fails model validation; the socket stays open. The frame's exact
// bytes are not known (the AWS doc example has spacing and a messageId field
// that the observed frames of the other gateway errors do not).
const BadRequestBody = "Bad request body"

// Reasons a message fails validation; an [*Error] wraps one of them.
var (
	// ErrLimit: the message is too large, too deeply nested, or holds a
	// number too large to validate.
	ErrLimit = errors.New("message exceeds validation limits")
	// ErrNotJSON: the message is not a single JSON value.
	ErrNotJSON = errors.New("message is not JSON")
	// ErrNoModel: the selection value has no model and there is no $default.
	ErrNoModel = errors.New("no model for the message")
	// ErrInvalid: the message does not match its model.
	ErrInvalid = errors.New("message does not match the model")
	// ErrInternal: the validator failed unexpectedly (a bug).
	ErrInternal = errors.New("validator failed")
)

// Error is a failed validation. Error() is meant for logs; the client gets
// the [BadRequestBody] frame.
type Error struct {
	Route  string // route key
	Model  string // model name; empty when none was selected
	Err    error  // ErrLimit, ErrNotJSON, ErrNoModel, ErrInvalid or ErrInternal
	Detail string // what exactly failed, bounded in size; may be empty
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("route ")
	b.WriteString(strconv.Quote(e.Route))
	if e.Model != "" {
		b.WriteString(": model ")
		b.WriteString(strconv.Quote(e.Model))
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxDetail bounds Error.Detail: property names and values in it come from
// the client.
const maxDetail = 1024

// clip shortens s to at most n bytes without splitting a UTF-8 sequence and
// replaces invalid bytes, so client data cannot bloat or garble a log line.
func clip(s string, n int) string {
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

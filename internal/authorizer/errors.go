package authorizer

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrUnauthorized is what an Invoker returns (possibly wrapped) when the
// authorizer refused with "Unauthorized": a Lambda function failing with
// exactly that error message, or a URL answering 401.
var ErrUnauthorized = errors.New("the authorizer answered Unauthorized")

// Error is a $connect the authorizer does not let through.
//
//	Status  when
//	401     an identity source is missing or empty (the authorizer is not called),
//	        or the authorizer answered Unauthorized
//	403     the policy does not allow execute-api:Invoke on the methodArn
//	500     anything else: the call failed or timed out, or the response is
//	        malformed, over 8 KiB, has a bad context value or a Condition
//
// The client sees only the status; Reason is for the log.
type Error struct {
	Authorizer string // the authorizer's name
	Status     int    // the handshake's HTTP status
	Reason     string
	Err        error // the cause, if any
}

// Error returns the authorizer, the status and the reason.
func (e *Error) Error() string {
	return fmt.Sprintf("authorizer %q: %d %s: %s", e.Authorizer, e.Status, http.StatusText(e.Status), e.Reason)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

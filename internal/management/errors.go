package management

import (
	"net/http"
	"strconv"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// apiError is one answer of the error table: the HTTP status, the error
// type that SDKs read from x-amzn-ErrorType, and a client-safe message
// (nil writes {"message":null}, as for GoneException).
type apiError struct {
	status  int
	typ     string
	message *string
}

func msg(s string) *string { return &s }

// The management API's errors, as the apigatewaymanagementapi model
// defines them. Clients get these; the log gets the detail.
var (
	errGone          = apiError{http.StatusGone, "GoneException", nil}
	errForbidden     = apiError{http.StatusForbidden, "ForbiddenException", msg("Forbidden")}
	errTooLarge      = apiError{http.StatusRequestEntityTooLarge, "PayloadTooLargeException", msg("Request payload exceeds the 131072-byte limit")}
	errOverQueue     = apiError{http.StatusRequestEntityTooLarge, "PayloadTooLargeException", msg("Data is larger than the connection's send queue (stage.limits.sendQueueBytes)")}
	errLimitExceeded = apiError{http.StatusTooManyRequests, "LimitExceededException", msg("The client's send buffer is full")}
	errRateExceeded  = apiError{http.StatusTooManyRequests, "LimitExceededException", msg("Rate exceeded")}
	errNotUTF8       = apiError{http.StatusBadRequest, "BadRequestException", msg("Data is not valid UTF-8 and this stage rejects binary frames (stage.limits.binaryFrames)")}
	errReadBody      = apiError{http.StatusBadRequest, "BadRequestException", msg("Could not read the request body")}
)

func forbidden(message string) apiError {
	return apiError{http.StatusForbidden, "ForbiddenException", msg(message)}
}

func (h *Handler) writeError(w http.ResponseWriter, e apiError) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("x-amzn-ErrorType", e.typ)
	body := []byte(`{"message":`)
	if e.message == nil {
		body = append(body, "null"...)
	} else {
		body = awsapi.AppendJSONString(body, *e.message)
	}
	body = append(body, '}')
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	w.Write(body)
}

package accesslog

import (
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// Record is what one access-log line says about one request (a handshake,
// a message or a disconnect) beyond its event. Every field is a value the
// gateway already holds when the request ends; a zero field renders as "-"
// (null outside a string in a JSON format), as API Gateway renders a value
// it does not have. Records are plain values: fill one on the stack and pass
// its address; Append and Writer.Log do not keep it.
type Record struct {
	// Event is the request's event: the connection, request and message ids,
	// route key, stage, times, source IP, user agent and what authorization
	// established (Event.Auth). Nil renders every event variable as "-".
	Event *awsapi.Event

	// Status is $context.status, the response status: the HTTP status of
	// the handshake response on CONNECT (the gateway's choice of 101 or the
	// $connect integration's 2xx on success; 401, 403, 429, 5xx when
	// refused); the integration's status, or the gateway's own error
	// status, on MESSAGE and DISCONNECT.
	Status int

	// Error is the gateway's own error for this request, if any.
	Error ErrorInfo

	// Authenticate is the authentication step ($context.authenticate.*):
	// checking who the caller is (a SigV4 signature, a JWT, an API key).
	Authenticate Step
	// Authorize is the authorization step ($context.authorize.*): the
	// decision taken on what authentication and the authorizer established
	// (the IAM policy, the JWT's scopes).
	Authorize Step
	// Authorizer is the Lambda REQUEST authorizer's run
	// ($context.authorizer.error, latency, status, integration*, requestId).
	// Only a request the authorizer ran for (a CONNECT) has one; principalId
	// and the context properties come from Event.Auth on every event.
	Authorizer AuthorizerStep
	// Integration is the route integration's run ($context.integration.*,
	// $context.integrationLatency).
	Integration IntegrationStep
}

// ErrorInfo is the gateway's own error for a request: $context.error.*.
type ErrorInfo struct {
	// Message is $context.error.message, and quoted, $context.error.messageString:
	// the message the gateway answered with ("Forbidden", "Internal server
	// error", "Endpoint request timed out", "Unauthorized", ...).
	Message string
	// ResponseType is $context.error.responseType, the gateway response
	// type: "UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN",
	// "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "BAD_REQUEST_BODY",
	// "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX", ...
	ResponseType string
	// ValidationError is $context.error.validationErrorString: what request
	// validation found wrong with a message.
	ValidationError string
}

// Step is one stage of handling a request. The zero Step is a stage that did
// not run: all its variables render as "-". A measured Latency is never
// exactly zero, so zero means "not measured"; a nonzero Latency renders in
// whole milliseconds (so a sub-millisecond stage renders as 0).
type Step struct {
	Latency time.Duration
	Status  int
	Error   string
}

// AuthorizerStep is a Lambda REQUEST authorizer's run: Step is the whole
// authorizer stage (Status: the outcome given to the client, 200, 401, 403
// or 500; Error: why it refused or failed); the Integration fields are the
// call to the authorizer function itself.
type AuthorizerStep struct {
	Step
	// IntegrationLatency is the authorizer function call's latency. Zero on a
	// CONNECT falls back to Event.Auth.Custom.IntegrationLatency.
	IntegrationLatency time.Duration
	// IntegrationStatus is the status the function call returned (the Lambda
	// Invoke's HTTP status, or the authorizer URL's).
	IntegrationStatus int
	// RequestID is the AWS endpoint's request id for the call (Lambda's
	// x-amzn-RequestId).
	RequestID string
}

// IntegrationStep is the route integration's run. Step.Status is the status
// the integration returned (for a Lambda proxy integration, the statusCode
// the function returned); Step.Error its error message; Step.Latency the
// time from sending the request to the integration to having its response.
type IntegrationStep struct {
	Step
	// IntegrationStatus is, for a Lambda proxy integration, the status of
	// the Lambda Invoke call itself (not the function's statusCode); for
	// other integrations the HTTP status of the backend call.
	IntegrationStatus int
	// RequestID is the AWS endpoint's request id (Lambda's x-amzn-RequestId).
	RequestID string
}

// Package integration defines what every backend kind implements: take one
// event (a $connect, a message, a $disconnect) and answer with a status,
// headers and a body. The kinds live in the packages below this one.
package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// Integration calls one backend. Implementations are safe for concurrent
// use; ctx carries the integration's timeout.
type Integration interface {
	Invoke(ctx context.Context, ev *awsapi.Event) (*Response, error)
}

// Inline is implemented by integrations that answer without I/O (MOCK);
// they run on the connection's reader instead of a goroutine of their own,
// which also keeps their replies in message order. An inline integration
// must keep no reference to the event once Invoke has returned: the
// dispatcher reuses it for the next message.
type Inline interface {
	Inline() bool
}

// Response is an integration's answer.
type Response struct {
	// StatusCode decides a $connect: 2xx accepts, anything else is the
	// handshake's HTTP status.
	StatusCode int
	// Header holds response headers; only Sec-WebSocket-Protocol is used,
	// on $connect.
	Header http.Header
	// Body is sent to the client by two-way routes.
	Body []byte
}

// FunctionError is a backend that ran and failed: a Lambda function error
// (X-Amz-Function-Error), a URL backend answering non-2xx, or a reply that
// is not a proxy response. Clients see "Internal server error" (502 on
// $connect); the detail goes to the log.
type FunctionError struct {
	Kind   string // e.g. "Unhandled", "HTTP 500", "malformed response"
	Detail string
}

func (e *FunctionError) Error() string {
	if e.Detail == "" {
		return "integration failed: " + e.Kind
	}
	return fmt.Sprintf("integration failed: %s: %s", e.Kind, e.Detail)
}

// MaxResponseBytes bounds a backend's reply (Lambda's own limit for a
// synchronous response is 6 MB).
const MaxResponseBytes = 6 << 20

// ReadBody reads a backend's reply body up to MaxResponseBytes.
func ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(b) > MaxResponseBytes {
		return nil, &FunctionError{Kind: "response too large", Detail: fmt.Sprintf("over %d bytes", MaxResponseBytes)}
	}
	return b, nil
}

// NewHTTPClient returns the pooled client shared by the HTTP-speaking
// integrations: keep-alive connections to each backend are reused, and
// timeouts come from each call's context.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4096
	t.MaxIdleConnsPerHost = 1024
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a backend's redirect is its answer
		},
	}
}

package authorizer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
)

// Invoker calls an authorizer function: it sends the event JSON and
// returns the response JSON. It returns an error wrapping ErrUnauthorized
// when the function refused with "Unauthorized". Implementations are safe
// for concurrent use; ctx carries the authorizer's timeout.
type Invoker interface {
	Invoke(ctx context.Context, event []byte) ([]byte, error)
}

// NewInvoker returns the invoker for uri: a Lambda function, named by ARN
// in either form AWS_PROXY integrations take, called through lambdas; or,
// as Switchboard's extension, an http(s) URL called through client.
func NewInvoker(uri string, lambdas *awsproxy.LambdaClients, client *http.Client) (Invoker, error) {
	if awsapi.IsLambdaURI(uri) {
		fn, err := awsapi.ParseLambdaURI(uri)
		if err != nil {
			return nil, err
		}
		return &lambdaInvoker{fn: awsproxy.NewLambda(fn, lambdas)}, nil
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("authorizer URI %q: want a Lambda function ARN or an http(s) URL", uri)
	}
	return &urlInvoker{url: awsproxy.NewURL(uri, client)}, nil
}

// lambdaInvoker calls a Lambda function through the Invoke API. The
// function refuses by failing with the error message "Unauthorized"
// (Node.js: callback("Unauthorized") or throw new Error("Unauthorized")).
type lambdaInvoker struct {
	fn *awsproxy.Lambda
}

var _ Invoker = (*lambdaInvoker)(nil)

func (l *lambdaInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	result, err := l.fn.Call(ctx, event)
	if fe, ok := errors.AsType[*awsproxy.LambdaError](err); ok && fe.Message == "Unauthorized" {
		return nil, ErrUnauthorized
	}
	return result, err
}

// urlInvoker POSTs the event to a URL, Switchboard's extension: a 2xx
// answer's body is the response, 401 means Unauthorized, and any other
// status is an error.
type urlInvoker struct {
	url *awsproxy.URL
}

var _ Invoker = (*urlInvoker)(nil)

func (u *urlInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	status, body, err := u.url.Post(ctx, event, MaxResponseBytes)
	switch {
	case status == http.StatusUnauthorized:
		return nil, ErrUnauthorized
	case err != nil:
		return nil, err
	case status < 200 || status > 299:
		return nil, fmt.Errorf("the authorizer URL answered HTTP %d", status)
	}
	return body, nil
}

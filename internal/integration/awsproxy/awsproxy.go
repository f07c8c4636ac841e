// Package awsproxy is the AWS_PROXY integration: the Lambda proxy event is
// sent to a Lambda function through the Lambda Invoke API, or, as
// Switchboard's extension, POSTed to an http(s) URL that answers with a
// Lambda proxy response. Lambda.Call and URL.Post, which Invoke is built
// on, send any JSON payload and return the raw answer, for callers with
// other event shapes (the $connect authorizer).
package awsproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
)

// New returns the integration for uri: a Lambda ARN or an http(s) URL
// (stage variables already substituted).
func New(uri string, lambdas *LambdaClients, httpClient *http.Client) (integration.Integration, error) {
	if awsapi.IsLambdaURI(uri) {
		fn, err := awsapi.ParseLambdaURI(uri)
		if err != nil {
			return nil, err
		}
		return NewLambda(fn, lambdas), nil
	}
	return NewURL(uri, httpClient), nil
}

// Lambda invokes a function synchronously (RequestResponse).
type Lambda struct {
	fn      awsapi.LambdaFunction
	clients *LambdaClients
}

var _ integration.Integration = (*Lambda)(nil)

// NewLambda returns a caller of fn through the clients in lambdas.
func NewLambda(fn awsapi.LambdaFunction, lambdas *LambdaClients) *Lambda {
	return &Lambda{fn: fn, clients: lambdas}
}

// Invoke sends ev to the function and reads its proxy response.
func (l *Lambda) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	payload, err := l.Call(ctx, ev.AppendJSON(nil))
	if fe, ok := errors.AsType[*LambdaError](err); ok {
		return nil, &integration.FunctionError{Kind: fe.Kind, Detail: truncate(fe.Payload)}
	}
	if err != nil {
		return nil, err
	}
	return proxyResponse(payload)
}

// Call sends payload to the function and returns the function's result
// unparsed. A function that ran and failed returns a *LambdaError. The
// result is bounded by the clients (MaxResponseBytes).
func (l *Lambda) Call(ctx context.Context, payload []byte) ([]byte, error) {
	client, err := l.clients.forRegion(ctx, l.fn.Region)
	if err != nil {
		return nil, err
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(l.fn.ARN),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: %w", l.fn.ARN, err)
	}
	if out.FunctionError != nil {
		return nil, newLambdaError(l.fn.ARN, *out.FunctionError, out.Payload)
	}
	return out.Payload, nil
}

// LambdaError is a function that ran and failed: the Invoke API answered
// with X-Amz-Function-Error, and the payload is the error object the
// runtime wrote, such as {"errorMessage":"Unauthorized","errorType":"Error"}.
type LambdaError struct {
	Function string // the function's ARN
	Kind     string // X-Amz-Function-Error: "Unhandled" or "Handled"
	// Message and Type are the payload's errorMessage and errorType, empty
	// when the payload is not such an object.
	Message string
	Type    string
	Payload []byte
}

func newLambdaError(function, kind string, payload []byte) *LambdaError {
	e := &LambdaError{Function: function, Kind: kind, Payload: payload}
	var obj struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(payload, &obj) == nil {
		e.Message, e.Type = obj.ErrorMessage, obj.ErrorType
	}
	return e
}

// Error names the function and gives the error's type and message, or
// the start of the payload.
func (e *LambdaError) Error() string {
	detail := truncate(e.Payload)
	switch {
	case e.Type != "":
		detail = e.Type + ": " + truncate([]byte(e.Message))
	case e.Message != "":
		detail = truncate([]byte(e.Message))
	}
	return fmt.Sprintf("lambda %s failed (%s): %s", e.Function, e.Kind, detail)
}

// URL POSTs the event JSON to a web backend that answers like a Lambda.
type URL struct {
	url    string
	client *http.Client
}

var _ integration.Integration = (*URL)(nil)

// NewURL returns a caller of the http(s) URL u through client.
func NewURL(u string, client *http.Client) *URL {
	return &URL{url: u, client: client}
}

// Invoke posts ev and reads the proxy response. A non-2xx HTTP status is a
// function error: the proxy response's statusCode, not the HTTP status,
// carries the backend's answer.
func (u *URL) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	status, body, err := u.Post(ctx, ev.AppendJSON(nil), integration.MaxResponseBytes)
	if errors.Is(err, ErrTooLarge) {
		return nil, &integration.FunctionError{Kind: "response too large", Detail: fmt.Sprintf("over %d bytes", integration.MaxResponseBytes)}
	}
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, &integration.FunctionError{Kind: fmt.Sprintf("HTTP %d", status), Detail: truncate(body)}
	}
	return proxyResponse(body)
}

// Post sends payload with Content-Type application/json and returns the
// answer's status and body, whatever the status. A body longer than limit
// bytes is not read further: Post returns an error wrapping ErrTooLarge.
// status is set whenever an answer arrived, even with an error reading
// its body.
func (u *URL) Post(ctx context.Context, payload []byte, limit int) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post %s: %w", u.url, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("post %s: reading response: %w", u.url, err)
	}
	if len(body) > limit {
		return resp.StatusCode, nil, fmt.Errorf("post %s: %w: over %d bytes", u.url, ErrTooLarge, limit)
	}
	return resp.StatusCode, body, nil
}

// ErrTooLarge is wrapped by the errors for a reply over its size limit.
var ErrTooLarge = errors.New("response too large")

func proxyResponse(payload []byte) (*integration.Response, error) {
	pr, err := awsapi.ParseProxyResponse(payload)
	if err != nil {
		return nil, &integration.FunctionError{Kind: "malformed response", Detail: err.Error()}
	}
	body, err := pr.BodyBytes()
	if err != nil {
		return nil, &integration.FunctionError{Kind: "malformed response", Detail: err.Error()}
	}
	h := make(http.Header, len(pr.Headers)+len(pr.MultiValueHeaders))
	for k, vs := range pr.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range pr.Headers {
		h.Set(k, v)
	}
	return &integration.Response{StatusCode: pr.StatusCode, Header: h, Body: body}, nil
}

func truncate(b []byte) string {
	const limit = 512
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}

// LambdaClients holds one Lambda client per region, built from the
// standard AWS configuration chain (environment, shared files, IMDS) on
// first use. AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL point it at a
// local emulator. The clients read at most integration.MaxResponseBytes of
// any answer (Lambda's own limit for a synchronous response), so an
// endpoint that answers more fails the call instead of filling memory.
type LambdaClients struct {
	mu      sync.Mutex
	loaded  bool
	cfg     aws.Config
	clients map[string]*lambda.Client
}

// NewLambdaClients returns an empty client set.
func NewLambdaClients() *LambdaClients {
	return &LambdaClients{clients: map[string]*lambda.Client{}}
}

func (lc *LambdaClients) forRegion(ctx context.Context, region string) (*lambda.Client, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.loaded {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		lc.cfg, lc.loaded = cfg, true
	}
	c, ok := lc.clients[region]
	if !ok {
		c = lambda.NewFromConfig(lc.cfg, func(o *lambda.Options) {
			o.Region = region
			o.HTTPClient = boundedClient{next: o.HTTPClient, limit: integration.MaxResponseBytes}
		})
		lc.clients[region] = c
	}
	return c, nil
}

// boundedClient makes every response body it returns fail with ErrTooLarge
// past limit bytes.
type boundedClient struct {
	next  lambda.HTTPClient
	limit int64
}

func (c boundedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if resp != nil && resp.Body != nil {
		resp.Body = &boundedBody{body: resp.Body, left: c.limit, limit: c.limit}
	}
	return resp, err
}

// boundedBody reports ErrTooLarge once, then io.EOF, so that the SDK's
// draining of the body stops there; closing it unread then drops the
// connection instead of reading the rest.
type boundedBody struct {
	body        io.ReadCloser
	left, limit int64
	tooLarge    bool
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, io.EOF
	}
	if b.left == 0 {
		// The limit is reached: the body is too large if anything follows.
		var one [1]byte
		if n, err := b.body.Read(one[:]); n == 0 {
			return 0, err
		}
		b.tooLarge = true
		return 0, fmt.Errorf("%w: over %d bytes", ErrTooLarge, b.limit)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.body.Close() }

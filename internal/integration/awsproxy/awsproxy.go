// Package awsproxy is the AWS_PROXY integration: the Lambda proxy event is
// sent to a Lambda function through the Lambda Invoke API, or, as
// Switchboard's extension, POSTed to an http(s) URL that answers with a
// Lambda proxy response.
package awsproxy

import (
	"bytes"
	"context"
	"fmt"
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
		return &Lambda{fn: fn, clients: lambdas}, nil
	}
	return &URL{url: uri, client: httpClient}, nil
}

// Lambda invokes a function synchronously (RequestResponse).
type Lambda struct {
	fn      awsapi.LambdaFunction
	clients *LambdaClients
}

var _ integration.Integration = (*Lambda)(nil)

// Invoke sends ev to the function and reads its proxy response.
func (l *Lambda) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	client, err := l.clients.forRegion(ctx, l.fn.Region)
	if err != nil {
		return nil, err
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(l.fn.ARN),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        ev.AppendJSON(nil),
	})
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: %w", l.fn.ARN, err)
	}
	if out.FunctionError != nil {
		return nil, &integration.FunctionError{Kind: *out.FunctionError, Detail: truncate(out.Payload)}
	}
	return proxyResponse(out.Payload)
}

// URL POSTs the event JSON to a web backend that answers like a Lambda.
type URL struct {
	url    string
	client *http.Client
}

var _ integration.Integration = (*URL)(nil)

// Invoke posts ev and reads the proxy response. A non-2xx HTTP status is a
// function error: the proxy response's statusCode, not the HTTP status,
// carries the backend's answer.
func (u *URL) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(ev.AppendJSON(nil)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", u.url, err)
	}
	defer resp.Body.Close()
	body, err := integration.ReadBody(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &integration.FunctionError{Kind: fmt.Sprintf("HTTP %d", resp.StatusCode), Detail: truncate(body)}
	}
	return proxyResponse(body)
}

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
// local emulator.
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
		c = lambda.NewFromConfig(lc.cfg, func(o *lambda.Options) { o.Region = region })
		lc.clients[region] = c
	}
	return c, nil
}

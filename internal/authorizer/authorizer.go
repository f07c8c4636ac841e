// Package authorizer runs a REQUEST authorizer for the $connect route, as
// API Gateway does for WebSocket APIs:
//
//  1. The identity sources (ParseIdentitySource) must all be present and
//     non-empty in the handshake, else the answer is 401 and the
//     authorizer is not called.
//  2. The authorizer (an Invoker: a Lambda function, or an http(s) URL)
//     receives the REQUEST event (awsapi.AppendAuthorizerRequest).
//  3. Its response (ParseResponse) carries a principal, an IAM policy and
//     a context. The policy is evaluated (Policy.Evaluate) for
//     execute-api:Invoke on the methodArn, .../STAGE/$connect.
//  4. Allow lets the handshake proceed with a Result; anything else is an
//     *Error carrying the handshake's status (401, 403 or 500) and a
//     reason for the log.
//
// As an extension, Allow and Deny outcomes can be cached for a time by
// identity-source values (AWS caches only for HTTP APIs).
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// Defaults for zero Options fields.
const (
	// DefaultTimeout bounds one authorizer call, as the default
	// integration timeout does an integration call.
	DefaultTimeout = 29 * time.Second
	// DefaultCacheMaxEntries bounds the cache when caching is on.
	DefaultCacheMaxEntries = 10000
)

// Options configure an Authorizer.
type Options struct {
	// Name names the authorizer in logs and errors.
	Name string
	// IdentitySources must all be present and non-empty in the handshake
	// before Invoker is called; their values key the cache. May be empty
	// when caching is off.
	IdentitySources []Source
	// Invoker calls the authorizer function. Required.
	Invoker Invoker
	// Timeout bounds one call; on expiry the handshake gets 500. Default
	// DefaultTimeout.
	Timeout time.Duration
	// CacheTTL, when positive, caches Allow and Deny outcomes for this
	// long, keyed by the identity sources' values, so it needs at least one
	// identity source. 401 and 500 outcomes are never cached. Default 0:
	// no cache, as API Gateway for WebSocket APIs.
	CacheTTL time.Duration
	// CacheMaxEntries bounds the cache; when it is full, expired entries
	// and then the oldest are dropped. Default DefaultCacheMaxEntries.
	CacheMaxEntries int
	// MethodARN is the methodArn the authorizer receives and the policy is
	// evaluated against. When empty it is built from Region, AccountID,
	// APIID and Stage (awsapi.ConnectMethodARN), which are then required.
	MethodARN string
	// Region, AccountID, APIID and Stage build the methodArn
	// arn:aws:execute-api:REGION:ACCOUNTID:APIID/STAGE/$connect.
	Region    string
	AccountID string
	APIID     string
	Stage     string
	// Logger receives failures (Warn) and decisions (Debug). Default: none.
	Logger *slog.Logger
	// Now is the clock for the cache. Default time.Now.
	Now func() time.Time
}

// Result is what an allowed $connect carries on: API Gateway passes these
// to integrations as requestContext.authorizer for the connection's whole
// life. A Result from the cache is shared: treat it as read-only.
type Result struct {
	// PrincipalID is the response's principalId.
	PrincipalID string
	// Context is the response's context, values stringified.
	Context map[string]string
	// UsageIdentifierKey is the response's usageIdentifierKey, if any.
	UsageIdentifierKey string
}

// Authorizer authorizes $connect handshakes. It is safe for concurrent use.
type Authorizer struct {
	name      string
	sources   []Source
	invoker   Invoker
	timeout   time.Duration
	methodARN string
	cache     *cache // nil: caching is off
	log       *slog.Logger
}

// New checks opts and returns the authorizer.
func New(opts Options) (*Authorizer, error) {
	a := &Authorizer{
		name:    opts.Name,
		sources: slices.Clone(opts.IdentitySources),
		invoker: opts.Invoker,
		timeout: opts.Timeout,
		log:     opts.Logger,
	}
	if a.invoker == nil {
		return nil, fmt.Errorf("authorizer %q: no invoker", a.name)
	}
	if a.timeout < 0 {
		return nil, fmt.Errorf("authorizer %q: negative timeout %v", a.name, a.timeout)
	}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	arn, err := methodARN(opts)
	if err != nil {
		return nil, fmt.Errorf("authorizer %q: %w", a.name, err)
	}
	a.methodARN = arn
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.CacheTTL < 0:
		return nil, fmt.Errorf("authorizer %q: negative cache TTL %v", a.name, opts.CacheTTL)
	case opts.CacheMaxEntries < 0:
		return nil, fmt.Errorf("authorizer %q: negative cache size %d", a.name, opts.CacheMaxEntries)
	case opts.CacheTTL > 0 && len(opts.IdentitySources) == 0:
		return nil, fmt.Errorf("authorizer %q: caching needs at least one identity source to key the cache", a.name)
	case opts.CacheTTL > 0:
		size := opts.CacheMaxEntries
		if size == 0 {
			size = DefaultCacheMaxEntries
		}
		now := opts.Now
		if now == nil {
			now = time.Now
		}
		a.cache = newCache(opts.CacheTTL, size, now)
	}
	return a, nil
}

func methodARN(opts Options) (string, error) {
	parts := []struct{ what, value string }{
		{"region", opts.Region}, {"account id", opts.AccountID}, {"API id", opts.APIID}, {"stage", opts.Stage},
	}
	if opts.MethodARN != "" {
		for _, p := range parts {
			if p.value != "" {
				return "", fmt.Errorf("both a methodArn and a %s: give one or the other", p.what)
			}
		}
		if strings.Count(opts.MethodARN, ":") < 5 {
			return "", fmt.Errorf("methodArn %q: want arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/$connect", opts.MethodARN)
		}
		return opts.MethodARN, nil
	}
	for _, p := range parts {
		if p.value == "" {
			return "", fmt.Errorf("no %s for the methodArn", p.what)
		}
		if strings.ContainsAny(p.value, ":/") {
			return "", fmt.Errorf("%s %q: an ARN part cannot hold \":\" or \"/\"", p.what, p.value)
		}
	}
	return awsapi.ConnectMethodARN(opts.Region, opts.AccountID, opts.APIID, opts.Stage), nil
}

// MethodARN returns the methodArn the authorizer is called with.
func (a *Authorizer) MethodARN() string { return a.methodARN }

// outcome is a completed authorization: a Result for Allow, or nil and
// the reason for Deny.
type outcome struct {
	result     *Result
	denyReason string
}

// Authorize decides the $connect whose CONNECT event is ev. It returns the
// Result of an Allow, or an *Error: 401 (an identity source is missing or
// empty, or the authorizer answered Unauthorized), 403 (the policy does
// not allow the connection) or 500 (any other failure). Failures are
// logged; the caller need only answer with the status.
func (a *Authorizer) Authorize(ctx context.Context, ev *awsapi.Event) (*Result, error) {
	values, err := Values(make([]string, 0, len(a.sources)), a.sources, ev)
	if err != nil {
		return nil, a.refuse(ctx, ev, &Error{Status: http.StatusUnauthorized, Reason: err.Error(), Err: err}, false)
	}
	var key string
	if a.cache != nil {
		key = cacheKey(values)
		if o, ok := a.cache.get(key); ok {
			return a.conclude(ctx, ev, o, true)
		}
	}
	o, failure := a.call(ctx, ev)
	if failure != nil {
		return nil, a.refuse(ctx, ev, failure, false)
	}
	if a.cache != nil {
		a.cache.put(key, o)
	}
	return a.conclude(ctx, ev, o, false)
}

// call runs the authorizer and evaluates its policy; an *Error is a 401
// or 500.
func (a *Authorizer) call(ctx context.Context, ev *awsapi.Event) (outcome, *Error) {
	event := awsapi.AppendAuthorizerRequest(nil, ev, a.methodARN)
	callCtx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	raw, err := a.invoker.Invoke(callCtx, event)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return outcome{}, &Error{Status: http.StatusUnauthorized, Reason: "the authorizer answered Unauthorized", Err: err}
	case err != nil && ctx.Err() != nil:
		return outcome{}, &Error{Status: http.StatusInternalServerError, Reason: "the handshake ended before the authorizer answered", Err: err}
	case err != nil && callCtx.Err() != nil:
		return outcome{}, &Error{Status: http.StatusInternalServerError, Reason: fmt.Sprintf("the authorizer did not answer within %v", a.timeout), Err: err}
	case err != nil:
		return outcome{}, &Error{Status: http.StatusInternalServerError, Reason: "calling the authorizer: " + err.Error(), Err: err}
	}
	resp, err := ParseResponse(raw)
	if err != nil {
		return outcome{}, &Error{Status: http.StatusInternalServerError, Reason: "the authorizer's response: " + err.Error(), Err: err}
	}
	d := resp.Policy.Evaluate(InvokeAction, a.methodARN)
	switch {
	case !d.Allowed && d.Statement >= 0:
		return outcome{denyReason: fmt.Sprintf("policy statement %d denies %s on %s", d.Statement, InvokeAction, a.methodARN)}, nil
	case !d.Allowed:
		return outcome{denyReason: fmt.Sprintf("no policy statement allows %s on %s", InvokeAction, a.methodARN)}, nil
	}
	return outcome{result: &Result{
		PrincipalID:        resp.PrincipalID,
		Context:            resp.Context,
		UsageIdentifierKey: resp.UsageIdentifierKey,
	}}, nil
}

// conclude turns an outcome into Authorize's answer.
func (a *Authorizer) conclude(ctx context.Context, ev *awsapi.Event, o outcome, cached bool) (*Result, error) {
	if o.result == nil {
		return nil, a.refuse(ctx, ev, &Error{Status: http.StatusForbidden, Reason: o.denyReason}, cached)
	}
	if a.log.Enabled(ctx, slog.LevelDebug) {
		a.log.LogAttrs(ctx, slog.LevelDebug, "authorizer allowed", slog.String("authorizer", a.name), slog.String("connectionId", ev.ConnectionID),
			slog.String("principalId", o.result.PrincipalID), slog.Bool("cached", cached))
	}
	return o.result, nil
}

// refuse logs e (500s as warnings: the authorizer or its configuration is
// broken) and returns it.
func (a *Authorizer) refuse(ctx context.Context, ev *awsapi.Event, e *Error, cached bool) *Error {
	e.Authorizer = a.name
	level, msg := slog.LevelDebug, "authorizer refused"
	if e.Status == http.StatusInternalServerError {
		level, msg = slog.LevelWarn, "authorizer failed"
	}
	if a.log.Enabled(ctx, level) {
		a.log.LogAttrs(ctx, level, msg,
			slog.String("authorizer", a.name), slog.String("connectionId", ev.ConnectionID),
			slog.Int("status", e.Status), slog.String("reason", e.Reason), slog.Bool("cached", cached))
	}
	return e
}

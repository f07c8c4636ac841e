// Package httpproxy is the HTTP_PROXY integration: the raw message is sent
// to an HTTP endpoint, with headers and query parameters mapped from the
// request, the context and stage variables, and the endpoint's reply body
// passed back as is.
package httpproxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/route"
)

// Proxy sends messages to one endpoint.
type Proxy struct {
	method    string
	url       *url.URL
	client    *http.Client
	headers   []mapping
	query     []mapping
	stageVars map[string]string
}

var _ integration.Integration = (*Proxy)(nil)

// mapping is one compiled request parameter: target name and a source.
type mapping struct {
	name   string
	source func(ev *awsapi.Event, stageVars map[string]string) (string, bool)
}

// New builds the integration. params are the requestParameters
// (integration.request.header.X / integration.request.querystring.X →
// source), already validated by config.
func New(method, rawURL string, params map[string]string, stageVars map[string]string, client *http.Client) (*Proxy, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	p := &Proxy{method: method, url: u, client: client, stageVars: stageVars}
	for target, src := range params {
		source, err := compileSource(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		if name, ok := strings.CutPrefix(target, "integration.request.header."); ok {
			p.headers = append(p.headers, mapping{name, source})
		} else if name, ok := strings.CutPrefix(target, "integration.request.querystring."); ok {
			p.query = append(p.query, mapping{name, source})
		} else {
			return nil, fmt.Errorf("%s: unknown mapping target", target)
		}
	}
	return p, nil
}

// compileSource turns the right-hand side of a mapping into a lookup.
func compileSource(src string) (func(*awsapi.Event, map[string]string) (string, bool), error) {
	switch {
	case len(src) >= 2 && src[0] == '\'' && src[len(src)-1] == '\'':
		v := src[1 : len(src)-1]
		return func(*awsapi.Event, map[string]string) (string, bool) { return v, true }, nil
	case strings.HasPrefix(src, "route.request.header."):
		return connectHeader(strings.TrimPrefix(src, "route.request.header."), false), nil
	case strings.HasPrefix(src, "route.request.multivalueheader."):
		return connectHeader(strings.TrimPrefix(src, "route.request.multivalueheader."), true), nil
	case strings.HasPrefix(src, "route.request.querystring."):
		return connectQuery(strings.TrimPrefix(src, "route.request.querystring."), false), nil
	case strings.HasPrefix(src, "route.request.multivaluequerystring."):
		return connectQuery(strings.TrimPrefix(src, "route.request.multivaluequerystring."), true), nil
	case strings.HasPrefix(src, "route.request.body"):
		e, err := route.Compile("$"+strings.TrimPrefix(src, "route."), route.BodyPath|route.WholeBody)
		if err != nil {
			return nil, err
		}
		return func(ev *awsapi.Event, _ map[string]string) (string, bool) {
			return e.Eval(&route.Input{Body: ev.Body})
		}, nil
	case strings.HasPrefix(src, "context."):
		name := strings.TrimPrefix(src, "context.")
		return func(ev *awsapi.Event, _ map[string]string) (string, bool) { return ev.Context(name) }, nil
	case strings.HasPrefix(src, "stageVariables."):
		name := strings.TrimPrefix(src, "stageVariables.")
		return func(_ *awsapi.Event, sv map[string]string) (string, bool) { v, ok := sv[name]; return v, ok }, nil
	}
	return nil, fmt.Errorf("unknown mapping source %q", src)
}

// connectHeader reads a header of the upgrade request ($connect only).
func connectHeader(name string, multi bool) func(*awsapi.Event, map[string]string) (string, bool) {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	return func(ev *awsapi.Event, _ map[string]string) (string, bool) {
		var vals []string
		for _, h := range ev.Headers {
			if textproto.CanonicalMIMEHeaderKey(h.Name) == canon {
				vals = append(vals, h.Value)
			}
		}
		if len(vals) == 0 {
			return "", false
		}
		if multi {
			return strings.Join(vals, ","), true
		}
		return vals[len(vals)-1], true
	}
}

// connectQuery reads a query parameter of the upgrade request ($connect only).
func connectQuery(name string, multi bool) func(*awsapi.Event, map[string]string) (string, bool) {
	return func(ev *awsapi.Event, _ map[string]string) (string, bool) {
		vals := ev.Query[name]
		if len(vals) == 0 {
			return "", false
		}
		if multi {
			return strings.Join(vals, ","), true
		}
		return vals[len(vals)-1], true
	}
}

// Invoke sends the message (no body on $connect and $disconnect) and
// returns the endpoint's status, headers and body.
func (p *Proxy) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	u := *p.url
	if len(p.query) > 0 {
		q := u.Query()
		for _, m := range p.query {
			if v, ok := m.source(ev, p.stageVars); ok {
				q.Set(m.name, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	var body *bytes.Reader
	if ev.Type == awsapi.Message {
		body = bytes.NewReader(ev.Body)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if ev.Type == awsapi.Message {
		switch {
		case ev.IsBase64Encoded:
			req.Header.Set("Content-Type", "application/octet-stream")
		case gjson.ValidBytes(ev.Body):
			req.Header.Set("Content-Type", "application/json")
		default:
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	for _, m := range p.headers {
		if v, ok := m.source(ev, p.stageVars); ok {
			req.Header.Set(m.name, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", p.method, p.url.Redacted(), err)
	}
	defer resp.Body.Close()
	b, err := integration.ReadBody(resp.Body)
	if err != nil {
		return nil, err
	}
	return &integration.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

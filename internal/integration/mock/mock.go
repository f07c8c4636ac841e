// Package mock is the MOCK integration: a reply built from templates, with
// no backend. With body "$request.body" it echoes each message.
package mock

import (
	"context"
	"net/http"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/route"
)

// Mock answers every event from its templates.
type Mock struct {
	status    int
	body      *route.Expr
	headers   map[string]*route.Expr
	stageVars map[string]string
}

var (
	_ integration.Integration = (*Mock)(nil)
	_ integration.Inline      = (*Mock)(nil)
)

// New compiles a MOCK integration's response templates.
func New(r *config.MockResponse, stageVars map[string]string) (*Mock, error) {
	body, err := route.Compile(r.Body, route.Template)
	if err != nil {
		return nil, err
	}
	m := &Mock{status: r.StatusCode, body: body, headers: map[string]*route.Expr{}, stageVars: stageVars}
	for k, v := range r.Headers {
		if m.headers[k], err = route.Compile(v, route.Template); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Inline reports that a mock never waits.
func (m *Mock) Inline() bool { return true }

// Invoke evaluates the templates against ev.
func (m *Mock) Invoke(_ context.Context, ev *awsapi.Event) (*integration.Response, error) {
	in := route.Input{Body: ev.Body, Context: ev.Context, StageVariables: m.stageVars}
	body, _ := m.body.Append(nil, &in)
	resp := &integration.Response{StatusCode: m.status, Body: body}
	if len(m.headers) > 0 {
		resp.Header = make(http.Header, len(m.headers))
		for k, e := range m.headers {
			v, _ := e.Eval(&in)
			resp.Header.Set(k, v)
		}
	}
	return resp, nil
}

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
	// echo: the body template is the whole message and nothing else, so
	// the answer is the message itself.
	echo bool
	// usesContext: some template reads $context.<name>.
	usesContext bool
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
	m := &Mock{status: r.StatusCode, body: body, headers: map[string]*route.Expr{}, stageVars: stageVars,
		echo: r.Body == "$request.body" || r.Body == "${request.body}", usesContext: usesContext(body)}
	for k, v := range r.Headers {
		if m.headers[k], err = route.Compile(v, route.Template); err != nil {
			return nil, err
		}
		m.usesContext = m.usesContext || usesContext(m.headers[k])
	}
	return m, nil
}

// usesContext reports whether e reads $context.<name>: evaluated once
// against an empty JSON object, it asks Context for each such variable.
func usesContext(e *route.Expr) bool {
	asked := false
	e.Append(nil, &route.Input{Body: []byte("{}"), Context: func(string) (string, bool) {
		asked = true
		return "", false
	}})
	return asked
}

// Inline reports that a mock never waits. A mock also keeps no reference
// to the event once Invoke has returned (its answer holds at most the
// event's Body, the message, never the event), which lets the dispatcher
// reuse the events of inline integrations.
func (m *Mock) Inline() bool { return true }

// Invoke evaluates the templates against ev. The echo template answers
// with ev.Body itself rather than a copy: the message belongs to the
// dispatcher, which never modifies it and copies the reply into a frame to
// send it.
func (m *Mock) Invoke(_ context.Context, ev *awsapi.Event) (*integration.Response, error) {
	in := route.Input{Body: ev.Body, StageVariables: m.stageVars}
	if m.usesContext {
		// A method value holding ev: an allocation, made only for
		// templates that need it.
		in.Context = ev.Context
	}
	resp := &integration.Response{StatusCode: m.status}
	if m.echo {
		resp.Body = ev.Body
	} else {
		resp.Body, _ = m.body.Append(nil, &in)
	}
	if len(m.headers) > 0 {
		resp.Header = make(http.Header, len(m.headers))
		for k, e := range m.headers {
			v, _ := e.Eval(&in)
			resp.Header.Set(k, v)
		}
	}
	return resp, nil
}

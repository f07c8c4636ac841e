// Package dispatch handles each event of a connection: it selects the
// route for a message, builds the Lambda-shaped event, calls the route's
// integration under its timeout, and sends the route response or the
// gateway's error frame. It also runs the $connect and $disconnect routes.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
)

// Route is one compiled route.
type Route struct {
	Key         string
	Integration integration.Integration
	Timeout     time.Duration
	// TwoWay sends the integration's response body to the client.
	TwoWay bool
}

// Stage is what every event says about where it happened, and the
// stage's limit on messages.
type Stage struct {
	Name      string
	APIID     string
	Variables map[string]string
	// MaxMessageBytes bounds a route response, as it bounds client messages.
	MaxMessageBytes int
}

// Dispatcher runs routes. It is safe for concurrent use.
type Dispatcher struct {
	table      *route.Table[*Route]
	connect    *Route
	disconnect *Route
	stage      Stage
	ids        *registry.IDs
	log        *slog.Logger

	// ctx is cancelled when the gateway stops waiting for integrations.
	ctx     context.Context
	pending sync.WaitGroup // $disconnect deliveries in flight
}

// New builds a dispatcher. routes holds every route by key, predefined
// ones included.
func New(ctx context.Context, selection *route.Expr, routes map[string]*Route, stage Stage, ids *registry.IDs, log *slog.Logger) *Dispatcher {
	return &Dispatcher{
		table:      route.NewTable(selection, routes),
		connect:    routes[route.Connect],
		disconnect: routes[route.Disconnect],
		stage:      stage,
		ids:        ids,
		log:        log,
		ctx:        ctx,
	}
}

// NewEvent returns an event for conn stamped with a fresh request id and
// the current time.
func (d *Dispatcher) NewEvent(t awsapi.EventType, routeKey string, info *session.Info) *awsapi.Event {
	return &awsapi.Event{
		Type:           t,
		RouteKey:       routeKey,
		ConnectionID:   info.ID,
		RequestID:      d.ids.New(),
		ConnectedAt:    info.ConnectedAt,
		RequestTime:    time.Now().UnixMilli(),
		Stage:          d.stage.Name,
		APIID:          d.stage.APIID,
		DomainName:     info.DomainName,
		SourceIP:       info.SourceIP,
		UserAgent:      info.UserAgent,
		StageVariables: d.stage.Variables,
	}
}

// HasConnect reports whether a $connect route exists (without one, no
// CONNECT event needs building).
func (d *Dispatcher) HasConnect() bool { return d.connect != nil }

// Connect runs the $connect route for a pending handshake. Without a
// $connect route the connection is accepted (a nil response).
func (d *Dispatcher) Connect(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	if d.connect == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.connect.Timeout)
	defer cancel()
	resp, err := d.connect.Integration.Invoke(ctx, ev)
	if err != nil {
		d.logFailure(ev, err)
	}
	return resp, err
}

// HandleMessage routes one message. Messages for integrations that wait on
// I/O run on their own goroutine, at most MaxInflightMessages per
// connection, so a slow backend holds up only the connections it serves;
// inline integrations (MOCK) answer on the reader, in order.
func (d *Dispatcher) HandleMessage(c *session.Conn, msg []byte, binary bool) {
	key, r, ok := d.table.Select(msg)
	if !ok {
		c.SendOrClose(awsapi.AppendErrorFrame(nil, awsapi.FrameForbidden, c.ID, d.ids.New()), false)
		return
	}
	ev := d.NewEvent(awsapi.Message, key, &c.Info)
	ev.MessageID = d.ids.New()
	ev.Body = msg
	ev.IsBase64Encoded = binary
	if in, ok := r.Integration.(integration.Inline); ok && in.Inline() {
		d.invoke(c, r, ev, false)
		return
	}
	if !c.Acquire() {
		return // the connection is closing
	}
	go func() {
		defer c.Release()
		d.invoke(c, r, ev, true)
	}()
}

// invoke calls the route's integration; timed bounds it by the route's
// timeout (inline integrations cannot block, and skip the timer).
func (d *Dispatcher) invoke(c *session.Conn, r *Route, ev *awsapi.Event, timed bool) {
	ctx := d.ctx
	if timed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(d.ctx, r.Timeout)
		defer cancel()
	}
	resp, err := r.Integration.Invoke(ctx, ev)
	if err == nil && r.TwoWay && len(resp.Body) > d.stage.MaxMessageBytes {
		err = &integration.FunctionError{Kind: "response too large",
			Detail: fmt.Sprintf("%d bytes; stage.limits.maxMessageBytes is %d", len(resp.Body), d.stage.MaxMessageBytes)}
	}
	switch {
	case err != nil:
		d.logFailure(ev, err)
		c.SendOrClose(awsapi.AppendErrorFrame(nil, ErrorFrameMessage(err), c.ID, ev.RequestID), false)
	case r.TwoWay && len(resp.Body) > 0:
		c.SendOrClose(resp.Body, !utf8.Valid(resp.Body))
	}
}

// ErrorFrameMessage picks the gateway error for a failed integration call.
func ErrorFrameMessage(err error) string {
	if IsTimeout(err) {
		return awsapi.FrameEndpointTimeout
	}
	return awsapi.FrameInternalError
}

// IsTimeout reports whether an integration failed by running out of time.
func IsTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}

// HandleClose runs the $disconnect route in the background; Wait waits for
// those deliveries.
func (d *Dispatcher) HandleClose(info *session.Info, code int, reason string) {
	if d.disconnect == nil {
		return
	}
	ev := d.NewEvent(awsapi.Disconnect, route.Disconnect, info)
	ev.DisconnectStatusCode = code
	ev.DisconnectReason = reason
	d.pending.Add(1)
	go func() {
		defer d.pending.Done()
		ctx, cancel := context.WithTimeout(d.ctx, d.disconnect.Timeout)
		defer cancel()
		if _, err := d.disconnect.Integration.Invoke(ctx, ev); err != nil {
			d.logFailure(ev, err)
		}
	}()
}

// Wait blocks until every $disconnect delivery has finished.
func (d *Dispatcher) Wait() { d.pending.Wait() }

func (d *Dispatcher) logFailure(ev *awsapi.Event, err error) {
	d.log.Warn("integration failed",
		slog.String("route", ev.RouteKey),
		slog.String("connectionId", ev.ConnectionID),
		slog.String("requestId", ev.RequestID),
		slog.Bool("timeout", IsTimeout(err)),
		slog.String("error", err.Error()))
}

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

// messageRoute is a route as HandleMessage uses it, with what it needs
// to know about the integration decided once rather than per message.
type messageRoute struct {
	*Route
	// inline: the integration answers without I/O, on the reader.
	inline bool
}

// Dispatcher runs routes. It is safe for concurrent use.
type Dispatcher struct {
	table      *route.Table[*messageRoute]
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
	table := make(map[string]*messageRoute, len(routes))
	for key, r := range routes {
		in, ok := r.Integration.(integration.Inline)
		table[key] = &messageRoute{Route: r, inline: ok && in.Inline()}
	}
	return &Dispatcher{
		table:      route.NewTable(selection, table),
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
	now := time.Now()
	ev := &awsapi.Event{}
	d.stamp(ev, t, routeKey, info, now)
	ev.RequestID = d.ids.NewAt(now)
	return ev
}

// stamp fills in what every event says about its connection, stage and
// time; the caller adds the ids.
func (d *Dispatcher) stamp(ev *awsapi.Event, t awsapi.EventType, routeKey string, info *session.Info, now time.Time) {
	ev.Type = t
	ev.RouteKey = routeKey
	ev.ConnectionID = info.ID
	ev.ConnectedAt = info.ConnectedAt
	ev.RequestTime = now.UnixMilli()
	ev.Stage = d.stage.Name
	ev.APIID = d.stage.APIID
	ev.DomainName = info.DomainName
	ev.SourceIP = info.SourceIP
	ev.UserAgent = info.UserAgent
	ev.StageVariables = d.stage.Variables
	ev.Auth = info.Auth
}

// fillMessage makes ev (a zero Event) the MESSAGE event for msg. The
// event's Body is msg itself, not a copy: session.Handler gives the
// handler ownership of msg, a slice allocated for that message alone (the
// polled reader copies out of its pooled read buffer into it) that the
// session never touches again. So the event may keep it for as long as
// the integration runs, on the reader or on a goroutine of its own.
func (d *Dispatcher) fillMessage(ev *awsapi.Event, key string, c *session.Conn, msg []byte, binary bool) {
	// One clock reading serves requestTime and both ids.
	now := time.Now()
	d.stamp(ev, awsapi.Message, key, &c.Info, now)
	ev.RequestID, ev.MessageID = d.ids.NewPair(now)
	ev.Body = msg
	ev.IsBase64Encoded = binary
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

// inlineEvents recycles the MESSAGE events of inline integrations. An
// inline integration runs on the reader and keeps no reference to its
// event once Invoke has returned (MOCK, the only inline kind, keeps none:
// see mock.Mock.Inline), so once the reply is sent the same Event can carry
// the next message, and the inline path allocates no event. Only the Event
// itself is reused: the message and the id strings it pointed to are never
// written to, so whatever still holds them (an echoed body on its way to
// the client) is unaffected. Events for integrations that wait on I/O are
// not reused: their goroutine, and whatever the integration starts, may
// outlive HandleMessage.
var inlineEvents = sync.Pool{New: func() any { return new(awsapi.Event) }}

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
	if r.inline {
		ev := inlineEvents.Get().(*awsapi.Event)
		d.fillMessage(ev, key, c, msg, binary)
		// Inline integrations cannot block: no timeout context, no timer.
		resp, err := r.Integration.Invoke(d.ctx, ev)
		d.reply(c, r.Route, ev, resp, err)
		*ev = awsapi.Event{} // the pool must not keep the message or the connection's strings alive
		inlineEvents.Put(ev)
		return
	}
	ev := &awsapi.Event{}
	d.fillMessage(ev, key, c, msg, binary)
	if !c.Acquire() {
		return // the connection is closing
	}
	go func() {
		defer c.Release()
		d.invokeTimed(c, r.Route, ev)
	}()
}

// invokeTimed calls an integration that waits on I/O, bounded by the
// route's timeout, and replies.
func (d *Dispatcher) invokeTimed(c *session.Conn, r *Route, ev *awsapi.Event) {
	ctx, cancel := context.WithTimeout(d.ctx, r.Timeout)
	defer cancel()
	resp, err := r.Integration.Invoke(ctx, ev)
	d.reply(c, r, ev, resp, err)
}

// reply sends the outcome of an integration call: the route response on a
// two-way route, or the gateway's error frame.
func (d *Dispatcher) reply(c *session.Conn, r *Route, ev *awsapi.Event, resp *integration.Response, err error) {
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

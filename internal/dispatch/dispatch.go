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
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/metrics"
	"github.com/switchboardgw/switchboard/internal/model"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// Route is one compiled route.
type Route struct {
	Key         string
	Integration integration.Integration
	Timeout     time.Duration
	// TwoWay sends the integration's response body to the client.
	TwoWay bool
	// DetailedMetrics counts the route in series of its own, labelled with
	// its key; otherwise in the stage's.
	DetailedMetrics bool
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

// Checks are what a message passes before its integration runs, and
// where what happens is counted and logged. Zero fields do nothing.
type Checks struct {
	// Models validates messages against their route's request models.
	Models *model.Set
	// Throttle holds the routes' token buckets.
	Throttle *throttle.Stage
	// ConnRate, when not unlimited, throttles each connection's messages
	// (with the connection's session.Conn.Limiter).
	ConnRate *throttle.Rate
	// Metrics counts messages, errors and integration latency.
	Metrics *metrics.Metrics
	// Logging holds the routes' execution log settings, by route key;
	// routes not in it log nothing.
	Logging map[string]RouteLogging
	// AccessLog, with LogFormat, gets one line per connect, message and
	// disconnect.
	AccessLog *accesslog.Writer
	LogFormat *accesslog.Format
}

// messageRoute is a route as HandleMessage uses it, with what it needs
// to know about the integration decided once rather than per message.
type messageRoute struct {
	*Route
	// inline: the integration answers without I/O, on the reader.
	inline   bool
	metrics  *metrics.RouteMetrics // nil: not counted
	throttle *throttle.Route       // nil: not throttled
	// logLevel and dataTrace are the route's execution log settings.
	logLevel  slog.Level // slog.LevelInfo: every message; slog.LevelError: failures; above: none
	dataTrace bool
}

// RouteLogging is a route's execution log: Level is slog.LevelInfo (a
// line per message), slog.LevelError (failures only) or anything above
// (none); DataTrace adds the message and the response to INFO lines.
type RouteLogging struct {
	Level     slog.Level
	DataTrace bool
}

// LogOff is a RouteLogging.Level that logs nothing.
const LogOff = slog.LevelError + 4

// Dispatcher runs routes. It lives as long as the gateway; the routes and
// checks it runs are a Routes, which a reload replaces (Use). It is safe
// for concurrent use.
type Dispatcher struct {
	routes  atomic.Pointer[Routes] // in use
	ids     *registry.IDs
	log     *slog.Logger
	metrics *metrics.Metrics // the same in every Routes

	// ctx is cancelled when the gateway stops waiting for integrations.
	ctx         context.Context
	disconnects disconnectQueue // $disconnect deliveries: disconnect.go
}

// Routes is one configuration's routes, stage and checks, built by
// Dispatcher.Build and never changed after. A message or a handshake runs
// on one Routes from start to end: a reload that puts another in use
// meanwhile does not affect it. It is safe for concurrent use.
type Routes struct {
	table      *route.Table[*messageRoute]
	connect    *Route
	disconnect *Route
	stage      Stage
	checks     Checks
	// connectMetrics and disconnectMetrics count $connect and $disconnect.
	connectMetrics    *metrics.RouteMetrics
	disconnectMetrics *metrics.RouteMetrics

	// The Dispatcher's, copied.
	d   *Dispatcher
	ids *registry.IDs
	log *slog.Logger
	ctx context.Context
}

// New returns a dispatcher with no Routes in use: Use one, built by
// Build, before the first HandleMessage or HandleClose. Every Build must
// be given m as its checks.Metrics.
func New(ctx context.Context, ids *registry.IDs, m *metrics.Metrics, log *slog.Logger) *Dispatcher {
	return &Dispatcher{ids: ids, log: log, metrics: m, ctx: ctx}
}

// Build compiles routes (every route by key, predefined ones included),
// the stage and the checks into a Routes of d, not yet in use.
func (d *Dispatcher) Build(selection *route.Expr, routes map[string]*Route, stage Stage, checks Checks) *Routes {
	table := make(map[string]*messageRoute, len(routes))
	for key, r := range routes {
		in, ok := r.Integration.(integration.Inline)
		mr := &messageRoute{Route: r, inline: ok && in.Inline(), metrics: checks.Metrics.Route(key, r.DetailedMetrics), logLevel: LogOff}
		if l, ok := checks.Logging[key]; ok {
			mr.logLevel, mr.dataTrace = l.Level, l.DataTrace
		}
		if checks.Throttle != nil {
			mr.throttle = checks.Throttle.Route(key)
		}
		table[key] = mr
	}
	if checks.AccessLog == nil || checks.LogFormat == nil {
		checks.AccessLog, checks.LogFormat = nil, nil
	}
	rt := &Routes{
		table:      route.NewTable(selection, table),
		connect:    routes[route.Connect],
		disconnect: routes[route.Disconnect],
		stage:      stage,
		checks:     checks,
		d:          d, ids: d.ids, log: d.log, ctx: d.ctx,
	}
	rt.connectMetrics = table[route.Connect].routeMetrics(checks.Metrics)
	rt.disconnectMetrics = table[route.Disconnect].routeMetrics(checks.Metrics)
	return rt
}

// routeMetrics is where r is counted; the stage's series when there is no
// such route.
func (r *messageRoute) routeMetrics(m *metrics.Metrics) *metrics.RouteMetrics {
	if r == nil {
		return m.Stage()
	}
	return r.metrics
}

// Use puts rt, built by d.Build, in use: the Dispatcher's HandleMessage
// and HandleClose run it from now on, and so does every later $disconnect
// attempt, also of deliveries queued before.
func (d *Dispatcher) Use(rt *Routes) { d.routes.Store(rt) }

// HandleMessage routes one message with the Routes in use.
func (d *Dispatcher) HandleMessage(c *session.Conn, msg []byte, binary bool) {
	d.routes.Load().HandleMessage(c, msg, binary)
}

// HandleClose delivers a connection's DISCONNECT event with the Routes in
// use (see Routes.HandleClose).
func (d *Dispatcher) HandleClose(info *session.Info, code int, reason string) {
	d.routes.Load().HandleClose(info, code, reason)
}

// ConnectMetrics is where $connect is counted.
func (rt *Routes) ConnectMetrics() *metrics.RouteMetrics { return rt.connectMetrics }

// NewEvent returns an event for conn stamped with a fresh request id and
// the current time.
func (rt *Routes) NewEvent(t awsapi.EventType, routeKey string, info *session.Info) *awsapi.Event {
	now := time.Now()
	ev := &awsapi.Event{}
	rt.stamp(ev, t, routeKey, info, now)
	ev.RequestID = rt.ids.NewAt(now)
	return ev
}

// stamp fills in what every event says about its connection, stage and
// time; the caller adds the ids.
func (rt *Routes) stamp(ev *awsapi.Event, t awsapi.EventType, routeKey string, info *session.Info, now time.Time) {
	ev.Type = t
	ev.RouteKey = routeKey
	ev.ConnectionID = info.ID
	ev.ConnectedAt = info.ConnectedAt
	ev.RequestTime = now.UnixMilli()
	ev.Stage = rt.stage.Name
	ev.APIID = rt.stage.APIID
	ev.DomainName = info.DomainName
	ev.SourceIP = info.SourceIP
	ev.UserAgent = info.UserAgent
	ev.StageVariables = rt.stage.Variables
	ev.Auth = info.Auth
}

// fillMessage makes ev (a zero Event) the MESSAGE event for msg. The
// event's Body is msg itself, not a copy: session.Handler gives the
// handler ownership of msg, a slice allocated for that message alone (the
// polled reader copies out of its pooled read buffer into it) that the
// session never touches again. So the event may keep it for as long as
// the integration runs, on the reader or on a goroutine of its own.
func (rt *Routes) fillMessage(ev *awsapi.Event, key string, c *session.Conn, msg []byte, binary bool, now time.Time) {
	rt.stamp(ev, awsapi.Message, key, &c.Info, now)
	ev.RequestID, ev.MessageID = rt.ids.NewPair(now)
	ev.Body = msg
	ev.IsBase64Encoded = binary
}

// HasConnect reports whether a $connect route exists (without one, no
// CONNECT event needs building).
func (rt *Routes) HasConnect() bool { return rt.connect != nil }

// Connect runs the $connect route for a pending handshake. Without a
// $connect route the connection is accepted (a nil response).
func (rt *Routes) Connect(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	if rt.connect == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, rt.connect.Timeout)
	defer cancel()
	resp, err := rt.connect.Integration.Invoke(ctx, ev)
	if err != nil {
		rt.logFailure(ev, err)
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
func (rt *Routes) HandleMessage(c *session.Conn, msg []byte, binary bool) {
	key, r, ok := rt.table.Select(msg)
	if !ok {
		rt.checks.Metrics.Stage().MessageIn()
		rt.checks.Metrics.Stage().ClientError()
		c.SendOrClose(awsapi.AppendErrorFrame(nil, awsapi.FrameForbidden, c.ID, rt.ids.New()), false)
		return
	}
	r.metrics.MessageIn()
	// One clock reading serves requestTime, both ids and the throttles.
	now := time.Now()
	if r.inline {
		ev := inlineEvents.Get().(*awsapi.Event)
		rt.fillMessage(ev, key, c, msg, binary, now)
		if rt.admit(c, r, ev, now) {
			// Inline integrations cannot block: no timeout context, no timer.
			resp, err := r.Integration.Invoke(rt.ctx, ev)
			rt.reply(c, r, ev, resp, err, 0)
		}
		*ev = awsapi.Event{} // the pool must not keep the message or the connection's strings alive
		inlineEvents.Put(ev)
		return
	}
	ev := &awsapi.Event{}
	rt.fillMessage(ev, key, c, msg, binary, now)
	if !rt.admit(c, r, ev, now) {
		return
	}
	if !c.Acquire() {
		return // the connection is closing
	}
	go func() {
		defer c.Release()
		rt.invokeTimed(c, r, ev)
	}()
}

// admit runs a message's checks: the connection's rate, the route's
// throttle, the route's model. A message that fails one gets its error
// frame (and its access log line) here, and false.
func (rt *Routes) admit(c *session.Conn, r *messageRoute, ev *awsapi.Event, now time.Time) bool {
	throttled := rt.checks.ConnRate != nil && !c.Limiter.AllowSerial(throttle.Nanos(now), rt.checks.ConnRate) ||
		r.throttle != nil && !r.throttle.AllowAt(throttle.Nanos(now))
	if throttled {
		rt.checks.Metrics.ThrottledMessage()
		r.metrics.ClientError()
		c.SendOrClose(awsapi.AppendErrorFrame(nil, awsapi.FrameTooManyRequests, c.ID, ev.RequestID), false)
		rt.accessLog(ev, http.StatusTooManyRequests, awsapi.FrameTooManyRequests, "THROTTLED", 0, nil)
		rt.executionLog(r, ev, http.StatusTooManyRequests, 0, nil, nil)
		return false
	}
	if err := rt.checks.Models.Validate(ev.RouteKey, ev.Body); err != nil {
		r.metrics.ClientError()
		rt.log.Info("message failed its model", slog.String("route", ev.RouteKey), slog.String("connectionId", ev.ConnectionID),
			slog.String("messageId", ev.MessageID), slog.String("error", err.Error()))
		c.SendOrClose(awsapi.AppendBadRequestFrame(nil, c.ID, ev.MessageID), false)
		rt.accessLog(ev, http.StatusBadRequest, "Bad request body", "BAD_REQUEST_BODY", 0, err)
		rt.executionLog(r, ev, http.StatusBadRequest, 0, nil, err)
		return false
	}
	return true
}

// invokeTimed calls an integration that waits on I/O, bounded by the
// route's timeout, and replies.
func (rt *Routes) invokeTimed(c *session.Conn, r *messageRoute, ev *awsapi.Event) {
	ctx, cancel := context.WithTimeout(rt.ctx, r.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := r.Integration.Invoke(ctx, ev)
	latency := time.Since(start)
	r.metrics.ObserveIntegrationLatency(latency)
	rt.reply(c, r, ev, resp, err, latency)
}

// reply sends the outcome of an integration call: the route response on a
// two-way route, or the gateway's error frame. latency is the call's, 0
// for an inline integration.
func (rt *Routes) reply(c *session.Conn, r *messageRoute, ev *awsapi.Event, resp *integration.Response, err error, latency time.Duration) {
	if err == nil && r.TwoWay && len(resp.Body) > rt.stage.MaxMessageBytes {
		err = &integration.FunctionError{Kind: "response too large",
			Detail: fmt.Sprintf("%d bytes; stage.limits.maxMessageBytes is %d", len(resp.Body), rt.stage.MaxMessageBytes)}
	}
	switch {
	case err != nil:
		rt.logFailure(ev, err)
		CountFailure(r.metrics, err)
		msg := ErrorFrameMessage(err)
		c.SendOrClose(awsapi.AppendErrorFrame(nil, msg, c.ID, ev.RequestID), false)
		rt.accessLog(ev, failureStatus(err), msg, "INTEGRATION_FAILURE", latency, err)
		rt.executionLog(r, ev, failureStatus(err), latency, nil, err)
		return
	case r.TwoWay && len(resp.Body) > 0:
		r.metrics.MessageOut()
		c.SendOrClose(resp.Body, !utf8.Valid(resp.Body))
	}
	rt.accessLog(ev, http.StatusOK, "", "", latency, nil)
	var body []byte
	if resp != nil {
		body = resp.Body
	}
	rt.executionLog(r, ev, http.StatusOK, latency, body, nil)
}

// maxTraceBytes bounds the message and response a data trace logs.
const maxTraceBytes = 1 << 10

// executionLog writes a route's execution log line for a handled message:
// every message at INFO, failures (status 400 and up) at ERROR.
func (rt *Routes) executionLog(r *messageRoute, ev *awsapi.Event, status int, latency time.Duration, response []byte, err error) {
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelError
	}
	if level < r.logLevel {
		return
	}
	attrs := []slog.Attr{
		slog.String("route", ev.RouteKey), slog.String("connectionId", ev.ConnectionID),
		slog.String("requestId", ev.RequestID), slog.String("messageId", ev.MessageID),
		slog.Int("status", status), slog.Duration("integrationLatency", latency),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if r.dataTrace {
		attrs = append(attrs, slog.String("body", clip(ev.Body)), slog.String("response", clip(response)))
	}
	rt.log.LogAttrs(rt.ctx, level, "message handled", attrs...)
}

func clip(b []byte) string {
	if len(b) > maxTraceBytes {
		return string(b[:maxTraceBytes]) + "…"
	}
	return string(b)
}

// CountFailure counts a failed integration call as AWS does: the
// integration answering with an error is an IntegrationError, failing to
// get an answer (timeout, connection) an ExecutionError.
func CountFailure(m *metrics.RouteMetrics, err error) {
	var fe *integration.FunctionError
	if errors.As(err, &fe) {
		m.IntegrationError()
	} else {
		m.ExecutionError()
	}
}

// failureStatus is the status a failed integration call logs: 504 for a
// timeout, 502 otherwise, as on $connect.
func failureStatus(err error) int {
	if IsTimeout(err) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// accessLog writes ev's access log line, if access logs are on.
func (rt *Routes) accessLog(ev *awsapi.Event, status int, message, responseType string, latency time.Duration, err error) {
	if rt.checks.AccessLog == nil {
		return
	}
	rec := accesslog.Record{Event: ev, Status: status}
	rec.Error.Message, rec.Error.ResponseType = message, responseType
	rec.Integration.Latency = latency
	if err != nil {
		rec.Integration.Error = err.Error()
		var me *model.Error
		if errors.As(err, &me) {
			rec.Error.ValidationError = me.Detail
			rec.Integration.Error = ""
		}
	}
	rt.checks.AccessLog.Log(rt.checks.LogFormat, &rec)
}

// LogsAccess reports whether access logs are on.
func (rt *Routes) LogsAccess() bool { return rt.checks.AccessLog != nil }

// LogAccess writes an access log line for an event the caller handled
// (a handshake), if access logs are on.
func (rt *Routes) LogAccess(rec *accesslog.Record) {
	if rt.checks.AccessLog != nil {
		rt.checks.AccessLog.Log(rt.checks.LogFormat, rec)
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

func (rt *Routes) logFailure(ev *awsapi.Event, err error) {
	rt.log.Warn("integration failed",
		slog.String("route", ev.RouteKey),
		slog.String("connectionId", ev.ConnectionID),
		slog.String("requestId", ev.RequestID),
		slog.Bool("timeout", IsTimeout(err)),
		slog.String("error", err.Error()))
}

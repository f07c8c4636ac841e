package dispatch

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
)

// $disconnect delivery.
//
// Every close makes one DISCONNECT event, and one delivery carries it to
// the $disconnect integration until the integration takes it (delivered) or
// the gateway gives up on it (dropped): delivered + dropped is the number of
// closes. The first attempt runs at once, on a goroutine of its own (at most
// maxFirstAttempts at a time). A failed attempt, with retries on, puts the
// delivery in the queue, due after its backoff; the scheduler, a goroutine
// that runs only while the queue holds something, starts each delivery when
// it is due, at most retryWorkers at a time. So an outage costs one small
// struct per waiting delivery and a bounded number of goroutines, however
// many connections close during it.
//
// The queue is bounded (DisconnectRetry.QueueSize): when a delivery finds it
// full, the oldest delivery (the earliest close, the one closest to the end
// of its retry window) is dropped, possibly the one arriving.
//
// Every attempt sends the same event: same requestId, requestTime and
// fields. Delivery is at least once (an attempt that timed out may still
// have reached the backend), so the backend must be idempotent; the
// requestId is its idempotency key.
//
// All of it runs under the dispatcher's context: once that is cancelled (the
// gateway stopped waiting), attempts in flight end, nothing more is
// attempted, and what is still queued is dropped and counted in one log line.
// Wait returns when no delivery is left.

const (
	// maxFirstAttempts bounds the first attempts running at once, each on
	// a goroutine of its own. Closes beyond it wait in the queue, due at once.
	maxFirstAttempts = 1024
	// retryWorkers bounds the attempts the queue runs at once: retries, and
	// first attempts that found maxFirstAttempts running.
	retryWorkers = 64
	// DefaultDisconnectQueueSize is the queue's bound when
	// DisconnectRetry.QueueSize is 0.
	DefaultDisconnectQueueSize = 10000
)

// DisconnectRetry says how failed $disconnect deliveries are retried. The
// zero value tries each delivery once.
type DisconnectRetry struct {
	// QueueSize bounds the deliveries waiting for an attempt. 0:
	// DefaultDisconnectQueueSize.
	QueueSize int
	// Window is how long after its close a delivery may still be tried.
	// 0: no retries.
	Window time.Duration
	// InitialBackoff is the wait before the first retry, doubled for each
	// further one up to MaxBackoff; each wait is jittered down by up to
	// half. At least 1ms.
	InitialBackoff, MaxBackoff time.Duration
}

// backoff is the wait after the given number of failed attempts.
func (r *DisconnectRetry) backoff(failed int) time.Duration {
	d := r.InitialBackoff
	for i := 1; i < failed && d < r.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.MaxBackoff)
	return d - rand.N(d/2+1)
}

// SetDisconnectRetry turns on retries of failed $disconnect deliveries. It
// must be called before the first HandleClose.
func (d *Dispatcher) SetDisconnectRetry(r DisconnectRetry) {
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultDisconnectQueueSize
	}
	r.InitialBackoff = max(r.InitialBackoff, time.Millisecond)
	r.MaxBackoff = max(r.MaxBackoff, r.InitialBackoff)
	d.disconnects.retry = r
}

// delivery is one DISCONNECT event on its way to the integration.
type delivery struct {
	ev       *awsapi.Event
	deadline time.Time // the end of the retry window
	seq      uint64    // close order: the oldest delivery has the lowest
	attempts int       // made so far
	due      time.Time // of the next attempt, while queued
	// dueAt and ageAt are the delivery's places in the queue's heaps, -1
	// when it is not queued.
	dueAt, ageAt int
	// lastErr and lastLatency are the last failed attempt's, for the log
	// and the access log line of a drop.
	lastErr     error
	lastLatency time.Duration
}

// disconnectQueue holds the deliveries of a dispatcher. Its zero value
// makes one attempt per delivery.
type disconnectQueue struct {
	retry DisconnectRetry

	mu    sync.Mutex
	byDue dueHeap // the queue, by next attempt
	byAge ageHeap // the same deliveries, oldest first
	seq   uint64
	// firsts counts first attempts on their own goroutine.
	firsts int
	// scheduling: the scheduler goroutine is running; wake tells it the
	// earliest due time changed; slots holds a token per attempt it runs.
	scheduling bool
	wake       chan struct{}
	slots      chan struct{}
	// outstanding counts deliveries neither delivered nor dropped; idle,
	// set while it is not 0, is closed when it drops to 0.
	outstanding int
	idle        chan struct{}
}

// HandleClose sends the connection's DISCONNECT event to the $disconnect
// route in the background, retrying it if it fails (SetDisconnectRetry);
// Wait waits for those deliveries. Each attempt uses the $disconnect route
// of the Routes in use when it starts, so a reload that mends a broken
// integration also mends the retries of deliveries queued before.
func (rt *Routes) HandleClose(info *session.Info, code int, reason string) {
	if rt.disconnect == nil {
		return
	}
	ev := rt.NewEvent(awsapi.Disconnect, route.Disconnect, info)
	ev.DisconnectStatusCode = code
	ev.DisconnectReason = reason
	rt.d.deliver(ev)
}

// deliver starts the delivery of a DISCONNECT event.
func (d *Dispatcher) deliver(ev *awsapi.Event) {
	q := &d.disconnects
	dl := &delivery{ev: ev, deadline: time.Now().Add(q.retry.Window), dueAt: -1, ageAt: -1}

	q.mu.Lock()
	q.seq++
	dl.seq = q.seq
	q.outstanding++
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	if d.ctx.Err() != nil {
		q.mu.Unlock()
		d.drop(dl, "the gateway has stopped", true)
		return
	}
	if q.firsts < maxFirstAttempts {
		q.firsts++
		q.mu.Unlock()
		go d.firstAttempt(dl)
		return
	}
	dl.due = time.Now()
	evicted := d.enqueueLocked(dl)
	q.mu.Unlock()
	if evicted != nil {
		d.drop(evicted, "the queue is full", true)
	}
}

// Wait blocks until every $disconnect delivery has been delivered or
// dropped: until the queue is empty and no attempt is running, or, once the
// dispatcher's context is cancelled, until the attempts in flight have
// returned (the queued deliveries are then dropped).
func (d *Dispatcher) Wait() {
	q := &d.disconnects
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

func (d *Dispatcher) firstAttempt(dl *delivery) {
	delivered := d.attempt(dl)
	q := &d.disconnects
	q.mu.Lock()
	q.firsts--
	q.mu.Unlock()
	if !delivered {
		d.retryLater(dl)
	}
}

// attempt makes one attempt with the $disconnect route in use and reports
// whether that ended the delivery: it delivered the event, or a reload has
// left no $disconnect route to deliver it to (the delivery is dropped).
func (d *Dispatcher) attempt(dl *delivery) bool {
	rt := d.routes.Load()
	if rt.disconnect == nil {
		d.drop(dl, "the configuration in use has no $disconnect route", true)
		return true
	}
	ctx, cancel := context.WithTimeout(d.ctx, rt.disconnect.Timeout)
	start := time.Now()
	resp, err := rt.disconnect.Integration.Invoke(ctx, dl.ev)
	cancel()
	latency := time.Since(start)
	dl.attempts++
	m := rt.disconnectMetrics
	m.ObserveIntegrationLatency(latency)
	if err = deliveryError(resp, err); err == nil {
		d.metrics.DisconnectDelivered()
		rt.accessLog(dl.ev, http.StatusOK, "", "", latency, nil)
		if dl.attempts > 1 {
			d.log.Info("$disconnect delivered after retries", slog.String("connectionId", dl.ev.ConnectionID),
				slog.String("requestId", dl.ev.RequestID), slog.Int("attempts", dl.attempts))
		}
		d.disconnects.finish()
		return true
	}
	dl.lastErr, dl.lastLatency = err, latency
	CountFailure(m, err)
	d.metrics.DisconnectFailed()
	switch {
	case dl.attempts == 1:
		rt.logFailure(dl.ev, err)
	case d.log.Enabled(context.Background(), slog.LevelDebug):
		d.log.Debug("$disconnect attempt failed", slog.String("connectionId", dl.ev.ConnectionID),
			slog.String("requestId", dl.ev.RequestID), slog.Int("attempt", dl.attempts),
			slog.Bool("timeout", IsTimeout(err)), slog.String("error", err.Error()))
	}
	return false
}

// deliveryError is what makes an attempt a failure: an error, or an answer
// outside 2xx (the proxy response's statusCode, an HTTP_PROXY backend's
// status). An answer that is 2xx or comes from a function that ran without
// error, but is no usable proxy response (a 204 without a body, a Lambda
// returning a bare string), delivered the event: $disconnect's answer is
// not used, and another attempt would get the same.
func deliveryError(resp *integration.Response, err error) error {
	switch {
	case err == nil && resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 299):
		return &integration.FunctionError{Kind: fmt.Sprintf("status %d", resp.StatusCode)}
	case err == nil:
		return nil
	}
	if fe, ok := errors.AsType[*integration.FunctionError](err); ok && (fe.Kind == "malformed response" || fe.Kind == "response too large") {
		return nil
	}
	return err
}

// retryLater queues a delivery whose attempt failed for its next attempt,
// or drops it.
func (d *Dispatcher) retryLater(dl *delivery) {
	q := &d.disconnects
	switch {
	case d.ctx.Err() != nil:
		d.drop(dl, "the gateway has stopped", true)
		return
	case q.retry.Window <= 0:
		d.drop(dl, "retries are off", true)
		return
	}
	dl.due = time.Now().Add(q.retry.backoff(dl.attempts))
	if dl.due.After(dl.deadline) {
		d.drop(dl, "its retry window has passed", true)
		return
	}
	d.metrics.DisconnectRetried()
	q.mu.Lock()
	evicted := d.enqueueLocked(dl)
	q.mu.Unlock()
	if evicted != nil {
		d.drop(evicted, "the queue is full", true)
	}
}

// enqueueLocked queues dl, starting the scheduler if it is not running,
// and returns the delivery it evicted to stay within the queue's size, if
// any (possibly dl itself).
func (d *Dispatcher) enqueueLocked(dl *delivery) (evicted *delivery) {
	q := &d.disconnects
	heap.Push(&q.byDue, dl)
	heap.Push(&q.byAge, dl)
	if len(q.byAge) > q.size() {
		evicted = q.byAge[0]
		q.removeLocked(evicted)
	}
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
		q.slots = make(chan struct{}, retryWorkers)
	}
	switch {
	case !q.scheduling:
		q.scheduling = true
		go d.schedule()
	case dl.dueAt == 0:
		select {
		case q.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return evicted
}

// size is the queue's bound.
func (q *disconnectQueue) size() int {
	if q.retry.QueueSize > 0 {
		return q.retry.QueueSize
	}
	return DefaultDisconnectQueueSize
}

// removeLocked takes a queued delivery out of the queue.
func (q *disconnectQueue) removeLocked(dl *delivery) {
	heap.Remove(&q.byDue, dl.dueAt)
	heap.Remove(&q.byAge, dl.ageAt)
}

// schedule starts each queued delivery when it is due, at most
// retryWorkers at a time, until the queue is empty or the dispatcher's
// context is cancelled; then it drops what is left.
func (d *Dispatcher) schedule() {
	q := &d.disconnects
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if d.ctx.Err() != nil {
			left := make([]*delivery, len(q.byDue))
			copy(left, q.byDue)
			for _, dl := range left {
				q.removeLocked(dl)
			}
			q.scheduling = false
			q.mu.Unlock()
			d.giveUp(left)
			return
		}
		if len(q.byDue) == 0 {
			q.scheduling = false
			q.mu.Unlock()
			return
		}
		dl := q.byDue[0]
		if wait := time.Until(dl.due); wait > 0 {
			q.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-q.wake:
			case <-d.ctx.Done():
			}
			continue
		}
		q.removeLocked(dl)
		q.mu.Unlock()
		if dl.attempts > 0 && time.Now().After(dl.deadline) { // it waited for a worker too long
			d.drop(dl, "its retry window has passed", true)
			continue
		}
		select {
		case q.slots <- struct{}{}:
			go d.queuedAttempt(dl)
		case <-d.ctx.Done():
			q.mu.Lock()
			heap.Push(&q.byDue, dl) // dropped with the rest on the next turn
			heap.Push(&q.byAge, dl)
			q.mu.Unlock()
		}
	}
}

// queuedAttempt is an attempt the scheduler started; it holds a slot.
func (d *Dispatcher) queuedAttempt(dl *delivery) {
	q := &d.disconnects
	defer func() { <-q.slots }()
	if !d.attempt(dl) {
		d.retryLater(dl)
	}
}

// giveUp drops the deliveries still queued when the dispatcher's context
// was cancelled, with one log line for all of them.
func (d *Dispatcher) giveUp(left []*delivery) {
	if len(left) == 0 {
		return
	}
	d.log.Warn("$disconnect deliveries dropped: the gateway has stopped waiting for them", slog.Int("count", len(left)))
	for _, dl := range left {
		d.drop(dl, "the gateway has stopped", false)
	}
}

// drop ends a delivery that was not delivered: counted, logged (at warn
// with loud, else at debug) and written to the access log with its last
// failure.
func (d *Dispatcher) drop(dl *delivery, why string, loud bool) {
	d.metrics.DisconnectDropped()
	err := dl.lastErr
	if err == nil {
		err = fmt.Errorf("not attempted: %s", why)
	}
	level := slog.LevelDebug
	if loud {
		level = slog.LevelWarn
	}
	if d.log.Enabled(context.Background(), level) {
		d.log.Log(context.Background(), level, "$disconnect dropped: "+why,
			slog.String("connectionId", dl.ev.ConnectionID), slog.String("requestId", dl.ev.RequestID),
			slog.Int("attempts", dl.attempts), slog.String("error", err.Error()))
	}
	d.routes.Load().accessLog(dl.ev, failureStatus(err), ErrorFrameMessage(err), "INTEGRATION_FAILURE", dl.lastLatency, err)
	d.disconnects.finish()
}

// finish ends a delivery, delivered or dropped.
func (q *disconnectQueue) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.outstanding--
	if q.outstanding == 0 {
		close(q.idle)
		q.idle = nil
	}
}

// dueHeap orders queued deliveries by their next attempt.
type dueHeap []*delivery

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].dueAt, h[j].dueAt = i, j
}
func (h *dueHeap) Push(x any) {
	dl := x.(*delivery)
	dl.dueAt = len(*h)
	*h = append(*h, dl)
}
func (h *dueHeap) Pop() any {
	old := *h
	dl := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	dl.dueAt = -1
	return dl
}

// ageHeap orders queued deliveries oldest first.
type ageHeap []*delivery

func (h ageHeap) Len() int           { return len(h) }
func (h ageHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h ageHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].ageAt, h[j].ageAt = i, j
}
func (h *ageHeap) Push(x any) {
	dl := x.(*delivery)
	dl.ageAt = len(*h)
	*h = append(*h, dl)
}
func (h *ageHeap) Pop() any {
	old := *h
	dl := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	dl.ageAt = -1
	return dl
}

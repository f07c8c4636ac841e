package config

import "time"

// DisconnectRetry configures the retries of $disconnect deliveries, a
// Switchboard extension: API Gateway calls $disconnect once, on a best-effort
// basis. A delivery fails when the integration errs, times out, or answers
// with a status outside 2xx (a URL backend's HTTP status, a Lambda's function
// error or proxy statusCode, an HTTP_PROXY backend's status); it is then tried
// again, with exponential backoff and jitter, for up to RetryWindow after the
// connection closed. Deliveries are at least once: a backend may see the same
// event (same requestId) more than once and must be idempotent.
type DisconnectRetry struct {
	// QueueSize bounds the deliveries waiting for their next attempt. When
	// it is full, the oldest waiting delivery is dropped (counted, logged with
	// its connection id) to make room. 1 to 1000000. Default 10000.
	QueueSize int `yaml:"queueSize"`
	// RetryWindow is how long after a connection closed its $disconnect may
	// still be tried; a delivery whose next attempt would fall later is
	// dropped. 0 turns retries off (one attempt, as API Gateway). Up to 24h.
	// Default 5m.
	RetryWindow *Duration `yaml:"retryWindow"`
	// InitialBackoff is the wait before the first retry; each further retry
	// waits twice as long, up to MaxBackoff, each wait jittered down by up to
	// half. 1ms to MaxBackoff, and less than RetryWindow. Default 100ms.
	InitialBackoff Duration `yaml:"initialBackoff"`
	// MaxBackoff caps the wait between two attempts. Up to 1h. Default 30s.
	MaxBackoff Duration `yaml:"maxBackoff"`
}

// Defaults and bounds of disconnectRetry.
const (
	DefaultDisconnectQueueSize      = 10000
	DefaultDisconnectRetryWindow    = 5 * time.Minute
	DefaultDisconnectInitialBackoff = 100 * time.Millisecond
	DefaultDisconnectMaxBackoff     = 30 * time.Second

	maxDisconnectQueueSize   = 1000000
	maxDisconnectRetryWindow = 24 * time.Hour
	maxDisconnectBackoff     = time.Hour
)

// Window is the retry window: retryWindow, or its default. 0: no retries.
func (r *DisconnectRetry) Window() time.Duration {
	if r.RetryWindow == nil {
		return DefaultDisconnectRetryWindow
	}
	return r.RetryWindow.D()
}

func (c *Config) applyDisconnectDefaults() {
	r := &c.DisconnectRetry
	setDefault(&r.QueueSize, DefaultDisconnectQueueSize)
	setDefault(&r.InitialBackoff, Duration(DefaultDisconnectInitialBackoff))
	setDefault(&r.MaxBackoff, Duration(DefaultDisconnectMaxBackoff))
}

func (c *Config) validateDisconnect(add func(string, string, ...any)) {
	r := &c.DisconnectRetry
	const pfx = "disconnectRetry."
	if r.QueueSize < 1 || r.QueueSize > maxDisconnectQueueSize {
		add(pfx+"queueSize", "%d: want 1 to %d", r.QueueSize, maxDisconnectQueueSize)
	}
	window := r.Window()
	if window < 0 || window > maxDisconnectRetryWindow {
		add(pfx+"retryWindow", "%v: want 0 (no retries) to %v", window, maxDisconnectRetryWindow)
	}
	initial, most := r.InitialBackoff.D(), r.MaxBackoff.D()
	switch {
	case initial < time.Millisecond:
		add(pfx+"initialBackoff", "%v: want at least 1ms", initial)
	case initial > most:
		add(pfx+"initialBackoff", "%v is longer than maxBackoff (%v)", initial, most)
	case window > 0 && initial >= window:
		add(pfx+"initialBackoff", "%v: want less than retryWindow (%v), or no retry would ever run", initial, window)
	}
	if most > maxDisconnectBackoff {
		add(pfx+"maxBackoff", "%v: want at most %v", most, maxDisconnectBackoff)
	}
}

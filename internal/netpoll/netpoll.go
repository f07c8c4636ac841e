// Package netpoll tells when a connection has bytes to read without a
// goroutine waiting on it. A registration is one-shot: after it fires,
// nothing more is reported for that connection until it is re-armed, so at
// most one reader ever runs per connection.
//
// On Linux it is epoll (EPOLLONESHOT); elsewhere New reports
// ErrUnsupported and callers keep a goroutine per connection instead.
package netpoll

import "errors"

// ErrClosed is returned for a registration whose poller was closed.
var ErrClosed = errors.New("netpoll: poller closed")

// ErrUnsupported is returned by New on systems without a poller.
var ErrUnsupported = errors.New("netpoll: readiness polling is not supported on this system")

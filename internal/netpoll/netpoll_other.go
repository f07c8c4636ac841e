//go:build !linux

package netpoll

import (
	"errors"
	"net"
	"syscall"
)

// Poller is unavailable on this system; New always fails.
type Poller struct{}

// Registration is unavailable on this system.
type Registration struct{ Raw syscall.RawConn }

// New reports ErrUnsupported.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Register is never reached: New fails.
func (p *Poller) Register(net.Conn) (*Registration, error) { return nil, ErrUnsupported }

// Arm is never reached.
func (r *Registration) Arm(func()) error { return ErrUnsupported }

// Rearm is never reached.
func (r *Registration) Rearm() error { return ErrUnsupported }

// Remove is never reached.
func (r *Registration) Remove() {}

// ErrWouldBlock is returned by ReadNonblock when no bytes are waiting.
var ErrWouldBlock = errors.New("netpoll: no data")

// ReadNonblock is never reached.
func (r *Registration) ReadNonblock([]byte) (int, error) { return 0, ErrUnsupported }

// Close does nothing.
func (p *Poller) Close() error { return nil }

// WriteNonblock writes nothing here; callers fall back to a blocking writer.
func WriteNonblock(syscall.RawConn, [][]byte) (int, error) { return 0, nil }

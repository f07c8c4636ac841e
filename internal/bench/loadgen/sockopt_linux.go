package loadgen

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on a socket about to be bound to
// a source address: the kernel then picks the port at connect time by the
// whole 4-tuple, reusing loopback TIME_WAIT entries, instead of searching
// for a port free of any TIME_WAIT at bind time (which slows tens of
// thousands of dials to a crawl after a previous run's closes).
func bindNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

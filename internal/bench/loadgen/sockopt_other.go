//go:build !linux

package loadgen

import "syscall"

func bindNoPort(network, address string, c syscall.RawConn) error { return nil }

// Package loadgen is the client side of the benchmark: it dials WebSocket
// connections with gobwas/ws from rotating loopback source addresses,
// holds idle ones without a goroutine each, and drives the active
// workloads — echo round trips (closed loop at a fixed number in flight, or
// open loop paced by time), handshake storms, @connections POSTs signed
// with SigV4 and their delivery, and connect/disconnect churn. Each
// workload returns Stats for one measured window.
package loadgen

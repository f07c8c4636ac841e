// Package throttle holds Switchboard's rate limits: API Gateway's stage and
// route throttles, and two extensions, a message rate per connection and a
// handshake rate and connection count per source IP.
//
// Every limit is a token bucket (rate = tokens per second, burst = bucket
// size), the algorithm API Gateway documents for its throttles, computed as
// GCRA (the generic cell rate algorithm): the whole state of one bucket is a
// single int64, the "theoretical arrival time" (TAT) at which the bucket
// would be full again. A [Limiter] is that int64, updated with one
// compare-and-swap, so a connection can embed its own for 8 bytes; the
// parameters ([Rate]) are compiled once and shared. Decisions are the same
// as golang.org/x/time/rate.Limiter's for the same rate, burst and arrival
// times (see the equivalence test), except that a [Limit] with rate 0 admits
// nothing (see [NewRate]).
//
// # Stage and route throttles
//
// [Stage] mirrors a stage's defaultRouteSettings and routeSettings
// (throttlingBurstLimit, throttlingRateLimit). Every route has its own
// bucket: a route listed in routeSettings gets its own limits, and every
// other route gets a bucket of its own with the default limits; routes do
// not share the default. This is how API Gateway applies stage-level
// throttles ("Per-API, per-stage throttling limits are applied at the API
// method level for a stage", REST developer guide, api-gateway-request-throttling;
// the WebSocket guide, websocket-api-protect, describes route-level
// throttling in the same terms and the stage field is named
// *Default*RouteSettings). What all routes do share is AWS's account-level
// throttle (10,000 rps, burst 5,000 across every API of the account); here
// that is an optional [Bucket] given as StageOptions.Account, which the
// caller may also charge for other work (for example @connections calls) and
// share between stages.
//
// # Per-connection message rate
//
// A session embeds a [Limiter] and calls [Limiter.Allow] with the [Rate]
// from its configuration snapshot, 8 bytes per connection instead of a
// rate.Limiter (80 bytes and a mutex).
//
// # Per-IP handshake rate and connection count
//
// [IPs] tracks, per source IP (IPv6 by /64 unless configured otherwise), a
// GCRA state for new handshakes and a count of connections. Its memory is
// bounded: an entry goes away as soon as it is idle (no connection and a
// full bucket), and the number of entries has a hard cap, past which unknown
// IPs are refused (fail-closed, see [IPs]).
//
// The gateway-wide maximum number of connections is enforced elsewhere
// (stage limits.maxConnections), not here.
//
// # Time
//
// Time is an int64 count of nanoseconds from a fixed origin: [Now] reads the
// monotonic clock, [Nanos] converts a time.Time already read. Every type
// takes an injectable clock or an explicit now, so tests need no sleeps.
package throttle

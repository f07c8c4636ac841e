// Package metrics exposes the gateway's Prometheus metrics and its health
// endpoints on a registry of its own (never the global one).
//
// The traffic metrics are the ones AWS API Gateway publishes to CloudWatch for
// WebSocket APIs (namespace AWS/ApiGateway), renamed the Prometheus way:
//
//	Prometheus name                          type       labels                  AWS metric
//	switchboard_connect_count_total          counter    api stage               ConnectCount
//	switchboard_message_count_total          counter    api stage route dir.    MessageCount
//	switchboard_integration_error_total      counter    api stage route         IntegrationError
//	switchboard_client_error_total           counter    api stage route         ClientError
//	switchboard_execution_error_total        counter    api stage route         ExecutionError
//	switchboard_integration_latency_seconds  histogram  api stage route         IntegrationLatency (ms in AWS)
//
// api and stage are AWS's ApiId and Stage dimensions. route is AWS's Route
// dimension and, as there, present only for routes with detailed metrics
// (DetailedMetricsEnabled: the stage default, overridden per route, which the
// configuration resolves and passes to [Metrics.Route]); the other routes
// count in series without a route label, so summing away route gives AWS's
// ApiId+Stage numbers. direction ("in" from the client, "out" to it) splits
// MessageCount, which AWS counts as one.
//
// The server's health, which CloudWatch has no name for:
//
//	switchboard_open_connections             gauge      api stage               client connections open now
//	switchboard_ready                        gauge      api stage               1 while /readyz answers 200
//	switchboard_send_queue_rejected_total    counter    api stage               sends refused: the send queue was full
//	switchboard_access_log_dropped_total     counter    api stage reason        access log lines not written (buffer_full, write_failed)
//	switchboard_slow_client_closed_total     counter    api stage               connections closed for not reading
//	switchboard_protocol_closed_total        counter    api stage               connections closed for a protocol or limit violation
//	switchboard_throttled_total              counter    api stage kind          refused by a rate limit: message, handshake, management
//	switchboard_disconnect_delivery_total    counter    api stage outcome       $disconnect deliveries: delivered, failed, retried, dropped
//
// and the client library's go_* and process_* collectors.
//
// No label ever carries a connection id, a request id, a source address or
// anything else a client chooses: label values are the configured api id,
// stage and route keys, and fixed words.
//
// # Hot path
//
// No series is resolved while handling a message. [New] resolves the
// stage-level ones; a route's series are resolved when the gateway builds its
// route table, at start and on each configuration reload, by asking once per
// route for a [RouteMetrics] with [Metrics.Route]. Counting a message is then
// one atomic add on a counter the route table already holds, with no label
// lookup and no allocation. Routes without detailed metrics share the
// stage-level handle.
//
// Routes can come and go on a reload. A detailed route's series, once
// resolved, are kept for the life of the process, even after its route
// leaves the configuration, so that its counters never go backwards if it
// comes back; asking for the same key again returns the same handle.
//
// # Endpoints
//
// [Metrics.Handler] serves /metrics, /healthz (200 while the process can
// answer) and /readyz (200 only between SetReady(true) and SetReady(false) or
// SetDraining, which is final), meant for a listener of its own.
package metrics

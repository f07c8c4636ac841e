// Package config defines Switchboard's YAML configuration: one typed tree
// with documented defaults, a strict decoder whose errors name the path of
// the offending key, and validation that lists every problem at once.
package config

import (
	"time"
)

// Config is the whole file. Every field's comment gives its default.
type Config struct {
	// Listen is the address for WebSocket clients and the @connections API.
	// Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// API describes the WebSocket API.
	API API `yaml:"api"`
	// Stage is the one deployed stage: its name is the URL path.
	Stage Stage `yaml:"stage"`
	// Management configures the @connections API.
	Management Management `yaml:"management"`
	// Integrations are the backends, by name.
	Integrations map[string]*Integration `yaml:"integrations"`
	// Routes map route keys ($connect, $disconnect, $default, custom) to integrations.
	Routes map[string]*Route `yaml:"routes"`
	// Reader is how connections are read: "epoll" (readiness-driven: an
	// idle connection holds no goroutine and no buffer; Linux only),
	// "goroutine" (one blocked goroutine per connection; every system), or
	// "auto" (epoll where available). Default "auto".
	Reader string `yaml:"reader"`
	// ShutdownTimeout bounds a graceful stop: connections are closed with
	// 1001 and $disconnect deliveries awaited for at most this long. Default 10s.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// DrainWindow spreads the 1001 closes of a graceful stop over this
	// long, so that clients do not all reconnect (and $disconnect does not
	// run for every connection) at the same instant. Shorter than
	// shutdownTimeout. Default 2s; 0 closes every connection at once.
	DrainWindow *Duration `yaml:"drainWindow"`
	// DisconnectRetry retries failed $disconnect deliveries from a bounded
	// queue (an extension: API Gateway tries once). Defaults: queueSize
	// 10000, retryWindow 5m, initialBackoff 100ms, maxBackoff 30s.
	DisconnectRetry DisconnectRetry `yaml:"disconnectRetry"`

	// TLS, when set, serves wss:// and https:// on Listen.
	TLS *TLS `yaml:"tls"`
	// TrustedProxies are the peers (IP addresses or CIDR prefixes) whose
	// X-Forwarded-For is believed: identity.sourceIp is then the nearest
	// address in it that is not itself a trusted proxy. From any other peer,
	// sourceIp is the peer's address. Default none.
	TrustedProxies []string `yaml:"trustedProxies"`
	// Origins restricts the Origin header of upgrade requests.
	Origins Origins `yaml:"origins"`
	// Authorizers are REQUEST (Lambda or URL) and JWT authorizers, by name,
	// for $connect's authorizerId.
	Authorizers map[string]*Authorizer `yaml:"authorizers"`
	// IAM configures authorizationType AWS_IAM.
	IAM IAM `yaml:"iam"`
	// APIKeys are the keys accepted on $connect when it has apiKeyRequired.
	APIKeys []APIKey `yaml:"apiKeys"`
	// Models are JSON Schema models by name (alphanumeric), written as a
	// YAML mapping or a string of JSON; routes select them with
	// modelSelectionExpression and requestModels. Draft-04 unless the
	// schema's $schema names a later draft.
	Models map[string]any `yaml:"models"`
	// Metrics, when set, serves /metrics, /healthz and /readyz on its own
	// listener.
	Metrics *Metrics `yaml:"metrics"`
	// APIKeysFile is a file of more keys, one per line: "ID SHA256HEX"
	// (the hex SHA-256 of the key); # starts a comment. Read at start and
	// on SIGHUP.
	APIKeysFile string `yaml:"apiKeysFile"`
}

// API is the API-level settings.
type API struct {
	// ID is the apiId in events. Default: 10 characters derived from Name.
	ID string `yaml:"id"`
	// Name names the API. Default "switchboard".
	Name string `yaml:"name"`
	// RouteSelectionExpression picks a message's route. Default $request.body.action.
	RouteSelectionExpression string `yaml:"routeSelectionExpression"`
	// Region and AccountID fill the methodArn a REQUEST authorizer receives
	// (arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/$connect). Defaults
	// us-east-1 and 000000000000.
	Region    string `yaml:"region"`
	AccountID string `yaml:"accountId"`
	// APIKeySelectionExpression says where $connect's API key is:
	// $request.header.x-api-key or $context.authorizer.usageIdentifierKey
	// (the CUSTOM authorizer's answer). Default $request.header.x-api-key.
	APIKeySelectionExpression string `yaml:"apiKeySelectionExpression"`
}

// Stage is the stage settings and per-connection limits.
type Stage struct {
	// Name is the stage: clients connect to ws://LISTEN/NAME. Default "dev".
	Name string `yaml:"name"`
	// Variables are stage variables, usable as ${stageVariables.NAME} in
	// integration URIs, request parameters and mock templates.
	Variables map[string]string `yaml:"variables"`
	// Limits bound every connection.
	Limits Limits `yaml:"limits"`
	// DefaultRouteSettings apply to every route; RouteSettings, by route
	// key, override them.
	DefaultRouteSettings RouteSettings             `yaml:"defaultRouteSettings"`
	RouteSettings        map[string]*RouteSettings `yaml:"routeSettings"`
	// AccessLogSettings, when set, write access logs.
	AccessLogSettings *AccessLogSettings `yaml:"accessLogSettings"`
}

// Limits are per-connection limits. The defaults are API Gateway's.
type Limits struct {
	// IdleTimeout closes a connection (1001 "Going away") after this long
	// without a data message in either direction. Default 10m.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxConnectionDuration closes a connection (1001 "Going away") this long
	// after it opened. Default 2h.
	MaxConnectionDuration Duration `yaml:"maxConnectionDuration"`
	// MaxMessageBytes is the largest message, after reassembling fragments;
	// larger closes with 1009. Default 131072 (128 KiB).
	MaxMessageBytes int `yaml:"maxMessageBytes"`
	// MaxFrameBytes is the largest frame; larger closes with 1009. Messages
	// sent to clients are fragmented into frames of at most this size.
	// Default 32768 (32 KiB).
	MaxFrameBytes int `yaml:"maxFrameBytes"`
	// BinaryFrames is "reject" (close 1003, as API Gateway) or "allow" (the
	// message reaches integrations base64-encoded with isBase64Encoded true).
	// Default "reject".
	BinaryFrames string `yaml:"binaryFrames"`
	// SendQueueBytes bounds the bytes waiting to be written to one client.
	// A full queue makes @connections POST answer 429; a message the
	// gateway itself must send to a full queue closes the connection with
	// 1008 "Slow client". Default 1048576 (1 MiB).
	SendQueueBytes int `yaml:"sendQueueBytes"`
	// WriteTimeout bounds one write to a client; a client that reads nothing
	// for this long is closed as slow (1008). Default 10s.
	WriteTimeout Duration `yaml:"writeTimeout"`
	// MaxInflightMessages bounds the messages of one connection being handled
	// by integrations at once; further reads wait. Default 16.
	MaxInflightMessages int `yaml:"maxInflightMessages"`
	// HandshakeTimeout bounds reading the upgrade request. It does not
	// include the $connect integration, which has its own timeout. Default 10s.
	HandshakeTimeout Duration `yaml:"handshakeTimeout"`
	// MaxHeaderBytes bounds a request's head (request line and headers);
	// a larger one is answered 431. Default 16384 (16 KiB).
	MaxHeaderBytes int `yaml:"maxHeaderBytes"`
	// MaxURLLength bounds an upgrade request's target (path and query); a
	// longer one is answered 414. Default 4096, API Gateway's limit.
	MaxURLLength int `yaml:"maxUrlLength"`
	// MaxConnections bounds open connections; more are refused with 429
	// before $connect runs. 0 means no limit. Default 0.
	MaxConnections int `yaml:"maxConnections"`
	// MessageRateLimit and MessageBurstLimit throttle each connection's
	// messages (token bucket); a throttled message gets the "Too Many
	// Requests" error frame. 0 means no limit. Default 0.
	MessageRateLimit  float64 `yaml:"messageRateLimit"`
	MessageBurstLimit int     `yaml:"messageBurstLimit"`
	// HandshakeRateLimitPerIP and HandshakeBurstLimitPerIP throttle new
	// connections per source IP (IPv6 by /64); more get 429. 0 means no
	// limit. Default 0.
	HandshakeRateLimitPerIP  float64 `yaml:"handshakeRateLimitPerIp"`
	HandshakeBurstLimitPerIP int     `yaml:"handshakeBurstLimitPerIp"`
	// MaxConnectionsPerIP bounds open connections per source IP; more get
	// 429. 0 means no limit. Default 0.
	MaxConnectionsPerIP int `yaml:"maxConnectionsPerIp"`
}

// Management configures the @connections API.
type Management struct {
	// Auth is "sigv4" (verify AWS Signature Version 4 against Credentials)
	// or "none" (anyone who reaches the listener may manage connections;
	// logged as a warning). Default "sigv4".
	Auth string `yaml:"auth"`
	// Credentials are the access keys accepted on @connections (service
	// execute-api, any region).
	Credentials []Credential `yaml:"credentials"`
	// MaxClockSkew bounds the difference between a signed request's time
	// and the gateway's clock. Default 5m.
	MaxClockSkew Duration `yaml:"maxClockSkew"`
	// ThrottlingRateLimit and ThrottlingBurstLimit bound authenticated
	// calls (token bucket, all callers together); more get 429
	// LimitExceededException. Without either, no limit; with one, the
	// other takes API Gateway's default (rate 10000, burst 5000).
	ThrottlingRateLimit  *float64 `yaml:"throttlingRateLimit"`
	ThrottlingBurstLimit *int     `yaml:"throttlingBurstLimit"`
}

// Credential is one accepted access key.
type Credential struct {
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
	// SessionToken, when set, must match the request's X-Amz-Security-Token.
	SessionToken string `yaml:"sessionToken"`
}

// Integration types.
const (
	TypeAWSProxy  = "AWS_PROXY"
	TypeHTTPProxy = "HTTP_PROXY"
	TypeMock      = "MOCK"
)

// Integration is one backend.
type Integration struct {
	// Type is AWS_PROXY (a Lambda function ARN, or an http(s) URL that
	// receives the same event JSON), HTTP_PROXY (the raw message to an HTTP
	// endpoint) or MOCK (a response built from a template). Required.
	Type string `yaml:"type"`
	// URI is the Lambda ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME, or
	// the arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations
	// form) or the http(s) URL. ${stageVariables.X} is substituted.
	URI string `yaml:"uri"`
	// IntegrationMethod is the HTTP method for HTTP_PROXY. Default POST.
	IntegrationMethod string `yaml:"integrationMethod"`
	// TimeoutInMillis bounds one call; on expiry the client gets
	// {"message": "Endpoint request timed out", ...}. 50 to 900000. Default 29000.
	TimeoutInMillis int `yaml:"timeoutInMillis"`
	// RequestParameters map integration.request.header.X or
	// integration.request.querystring.X to route.request.header.X,
	// route.request.querystring.X ($connect only), route.request.body.PATH,
	// context.X, stageVariables.X or 'static text'. HTTP_PROXY only.
	RequestParameters map[string]string `yaml:"requestParameters"`
	// Response is the MOCK integration's reply.
	Response *MockResponse `yaml:"response"`
}

// MockResponse is what a MOCK integration returns. Body and header values
// are templates: $request.body (the whole message), $request.body.PATH,
// $context.X and $stageVariables.X, with ${...} to delimit.
type MockResponse struct {
	// StatusCode is the reply's status: on $connect, 2xx accepts the
	// connection and anything else refuses it with that HTTP status.
	// Default 200.
	StatusCode int `yaml:"statusCode"`
	// Headers are reply headers; on $connect only Sec-WebSocket-Protocol is used.
	Headers map[string]string `yaml:"headers"`
	// Body is the reply body, sent to the client when the route has a route
	// response. Default empty.
	Body string `yaml:"body"`
}

// Route binds a route key to an integration.
type Route struct {
	// Integration names an entry of integrations. Required.
	Integration string `yaml:"integration"`
	// RouteResponseSelectionExpression, when "$default", makes the route
	// two-way: the integration's response body is sent to the client.
	// Default empty (one-way).
	RouteResponseSelectionExpression string `yaml:"routeResponseSelectionExpression"`
	// AuthorizationType protects $connect: NONE, CUSTOM (a REQUEST
	// authorizer), JWT (a JWT authorizer) or AWS_IAM (a SigV4-signed
	// upgrade). Default NONE. Only $connect can be authorized.
	AuthorizationType string `yaml:"authorizationType"`
	// AuthorizerID names an entry of authorizers, for CUSTOM and JWT.
	AuthorizerID string `yaml:"authorizerId"`
	// AuthorizationScopes, with JWT, are scopes the token must all have
	// (in its scope or scp claim); a token without them gets 403.
	AuthorizationScopes []string `yaml:"authorizationScopes"`
	// APIKeyRequired, on $connect, refuses upgrades without a valid API
	// key (403). Default false.
	APIKeyRequired bool `yaml:"apiKeyRequired"`
	// ModelSelectionExpression picks the requestModels key for a message
	// (e.g. $request.body.type); RequestModels maps those keys, and
	// $default, to model names. A message failing its model gets the "Bad
	// request body" error frame and does not reach the integration.
	ModelSelectionExpression string            `yaml:"modelSelectionExpression"`
	RequestModels            map[string]string `yaml:"requestModels"`
}

// Duration is a time.Duration written as "10m", "1h30m", "250ms".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

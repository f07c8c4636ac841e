package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const fullExample = `
listen: 127.0.0.1:8080
api:
  id: a1b2c3d4e5
  name: chat
  routeSelectionExpression: $request.body.action
stage:
  name: dev
  variables: {backend: 127.0.0.1:9000}
management:
  auth: sigv4
  credentials:
    - {accessKeyId: AKIDEXAMPLE, secretAccessKey: "${SB_SECRET}"}
integrations:
  connect: {type: AWS_PROXY, uri: "arn:aws:lambda:us-east-1:000000000000:function:chat-connect"}
  message: {type: AWS_PROXY, uri: "http://${stageVariables.backend}/events", timeoutInMillis: 29000}
  relay:   {type: HTTP_PROXY, uri: "http://127.0.0.1:9000/relay",
            requestParameters: {"integration.request.header.connectionId": "context.connectionId"}}
  echo:    {type: MOCK, response: {body: $request.body}}
routes:
  $connect:    {integration: connect}
  $disconnect: {integration: connect}
  $default:    {integration: echo, routeResponseSelectionExpression: $default}
  sendMessage: {integration: message}
`

func TestParseFullExample(t *testing.T) {
	cfg, err := Parse([]byte(fullExample), env(map[string]string{"SB_SECRET": "s3cret"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.Management.Credentials[0].SecretAccessKey; got != "s3cret" {
		t.Errorf("secret = %q, want the environment's value", got)
	}
	if got := cfg.Integrations["message"].URI; got != "http://${stageVariables.backend}/events" {
		t.Errorf("stage variable reference was touched by env substitution: %q", got)
	}
	if uri, _ := cfg.SubstituteStageVariables(cfg.Integrations["message"].URI); uri != "http://127.0.0.1:9000/events" {
		t.Errorf("substituted uri = %q", uri)
	}
	l := cfg.Stage.Limits
	if l.IdleTimeout.D() != 10*time.Minute || l.MaxConnectionDuration.D() != 2*time.Hour ||
		l.MaxMessageBytes != 128<<10 || l.MaxFrameBytes != 32<<10 || l.BinaryFrames != BinaryReject {
		t.Errorf("limits not defaulted to AWS values: %+v", l)
	}
	if cfg.Integrations["relay"].IntegrationMethod != "POST" || cfg.Integrations["connect"].TimeoutInMillis != 29000 {
		t.Errorf("integration defaults not applied: %+v %+v", cfg.Integrations["relay"], cfg.Integrations["connect"])
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the problem list
	}{
		{"unknown integration", `
management: {auth: none}
integrations: {message: {type: MOCK}}
routes: {sendMessage: {integration: mesage}}`,
			[]string{`routes.sendMessage.integration: unknown integration "mesage" (did you mean "message"?)`}},
		{"unknown keys everywhere", `
management: {auth: none}
stage: {name: dev, limit: {}}
integrations: {m: {type: MOCK, tiemout: 5}}
routes: {$default: {integration: m, extra: 1}}
bogus: true`,
			[]string{"stage.limit: unknown key (line 3)", "integrations.m.tiemout: unknown key", "routes.$default.extra: unknown key", "bogus: unknown key"}},
		{"type errors name the path", `
management: {auth: none}
stage:
  limits:
    maxFrameBytes: lots
    idleTimeout: forever
integrations: {m: {type: MOCK}}
routes: {$default: {integration: m}}`,
			[]string{"stage.limits.maxFrameBytes: cannot unmarshal", "stage.limits.idleTimeout: invalid duration \"forever\""}},
		{"missing env", `
management: {credentials: [{accessKeyId: A, secretAccessKey: "${NOPE}"}]}
integrations: {m: {type: MOCK}}
routes: {$default: {integration: m}}`,
			[]string{"management.credentials[0].secretAccessKey: environment variable NOPE is not set"}},
		{"everything else", `
listen: nocolon
api: {id: "bad id!", routeSelectionExpression: "${request.body.x"}
stage:
  name: "a/b"
  variables: {"bad-name": x}
  limits: {maxFrameBytes: 200000, binaryFrames: maybe, sendQueueBytes: 10}
management: {auth: sigv4}
integrations:
  a: {type: AWS_PROXY, uri: "arn:aws:lambda:us-east-1:1:fn:x"}
  b: {type: HTTP_PROXY, uri: "ftp://x", integrationMethod: FETCH, requestParameters: {"integration.request.body": "x", "integration.request.header.h": "nowhere.x"}}
  c: {type: AWS_PROXY, uri: "http://${stageVariables.missing}/x", timeoutInMillis: 10}
  d: {type: SOAP}
  e: {type: MOCK, uri: "http://x", response: {statusCode: 42, body: "${context.x"}}
  f: {type: AWS_PROXY, uri: "http://x/", requestParameters: {"integration.request.header.a": "'x'"}}
routes:
  $custom: {integration: a}
  x: {}
  y: {integration: a, routeResponseSelectionExpression: "$request.body.x"}`,
			[]string{
				"listen: want host:port",
				`api.id: "bad id!"`,
				"api.routeSelectionExpression: unterminated ${",
				`stage.name: "a/b"`,
				"stage.variables.bad-name: variable names",
				"stage.limits.maxFrameBytes: 200000 is larger than maxMessageBytes",
				`stage.limits.binaryFrames: "maybe"`,
				"stage.limits.sendQueueBytes: 10 cannot hold one message",
				"management.credentials: auth sigv4 needs at least one credential",
				"integrations.a.uri: not a Lambda function ARN",
				`integrations.b.uri: "ftp://x"`,
				`integrations.b.integrationMethod: "FETCH"`,
				"integrations.b.requestParameters.integration.request.body: want integration.request.header.NAME",
				`integrations.b.requestParameters.integration.request.header.h: "nowhere.x"`,
				`integrations.c.uri: stage variable "missing" is not defined`,
				"integrations.c.timeoutInMillis: 10: want 50 to 900000",
				`integrations.d.type: "SOAP"`,
				"integrations.e.uri: MOCK takes no uri",
				"integrations.e.response.statusCode: 42",
				"integrations.e.response.body: unterminated ${",
				"integrations.f.requestParameters: only HTTP_PROXY takes requestParameters",
				`routes.$custom: route key "$custom": keys starting with $ are reserved`,
				"routes.x.integration: required",
				`routes.y.routeResponseSelectionExpression: "$request.body.x": only $default is supported`,
			}},
		{"decode and semantic problems together", `
management: {auth: none}
stage: {limits: {maxFrameBytes: lots}, bogus: 1}
integrations: {m: {type: MOCK}}
routes: {$default: {integration: n}}`,
			[]string{"stage.limits.maxFrameBytes: cannot unmarshal", "stage.bogus: unknown key", `routes.$default.integration: unknown integration "n"`}},
		{"unknown reader", `
reader: turbo
management: {auth: none}
integrations: {m: {type: MOCK}}
routes: {$default: {integration: m}}`, []string{`reader: "turbo": want auto, epoll or goroutine`}},
		{"security", `
management: {auth: none}
tls: {certFile: /nonexistent.crt, keyFile: /nonexistent.key, minVersion: "1.1"}
trustedProxies: [10.0.0.0/8, "not-an-ip", 192.168.1.1]
origins: {allow: ["https://ok.example", "*", "app.example.com", "https://a.*.example.com"]}
api: {apiKeySelectionExpression: "$request.querystring.key"}
iam: {credentials: [{accessKeyId: A, secretAccessKey: x}, {accessKeyId: A}]}
apiKeys:
  - {id: k1, value: short}
  - {id: k1, sha256: "zz"}
  - {id: k3, value: "aaaaaaaaaaaaaaaaaaaaaaaaa", sha256: "00"}
authorizers:
  lam: {type: REQUEST, uri: "ftp://x", authorizerResultTtlInSeconds: 7200, timeoutInMillis: 40000}
  jwt: {type: JWT, identitySource: "route.request.header.A, route.request.header.B",
        jwtConfiguration: {jwksUri: "file:///keys", algorithms: [HS256], leeway: 2h}}
  nojwt: {type: JWT}
  odd: {type: TOKEN}
integrations: {m: {type: MOCK}}
routes:
  $connect: {integration: m, authorizationType: CUSTOM, authorizerId: jwt, authorizationScopes: [a]}
  $default: {integration: m, authorizationType: AWS_IAM, apiKeyRequired: true}`,
			[]string{
				"tls: cannot load the certificate and key",
				`tls.minVersion: "1.1"`,
				`trustedProxies[1]: "not-an-ip"`,
				`origins.allow[1]: "*" would allow every origin`,
				`origins.allow[2]: "app.example.com": want scheme://host`,
				`origins.allow[3]: "https://a.*.example.com": a wildcard may only be the first label`,
				`api.apiKeySelectionExpression: "$request.querystring.key"`,
				"iam.credentials[1].accessKeyId: \"A\" is listed twice",
				"iam.credentials[1].secretAccessKey: required",
				"apiKeys[0].value: 5 characters",
				`apiKeys[1].id: "k1" is listed twice`,
				"apiKeys[1].sha256: want 64 hex digits",
				"apiKeys[2]: give exactly one of value and sha256",
				`authorizers.lam.uri: "ftp://x"`,
				"authorizers.lam.authorizerResultTtlInSeconds: 7200: want 0 to 3600",
				"authorizers.lam.timeoutInMillis: 40000: want 50 to 29000",
				"authorizers.jwt.identitySource: a JWT authorizer takes one source",
				"authorizers.jwt.jwtConfiguration.issuer: required",
				"authorizers.jwt.jwtConfiguration.audience: required",
				`authorizers.jwt.jwtConfiguration.jwksUri: "file:///keys"`,
				`authorizers.jwt.jwtConfiguration.algorithms[0]: "HS256"`,
				"authorizers.jwt.jwtConfiguration.leeway: 2h0m0s: want 0 to 1h",
				"authorizers.nojwt.jwtConfiguration: required for type JWT",
				`authorizers.odd.type: "TOKEN": want REQUEST or JWT`,
				`routes.$connect.authorizerId: authorizer "jwt" is JWT; authorizationType CUSTOM needs a REQUEST authorizer`,
				"routes.$connect.authorizationScopes: only with authorizationType JWT",
				"routes.$default.authorizationType: only $connect can be authorized",
				"routes.$default.apiKeyRequired: API keys are checked on $connect only",
			}},
		{"route authorization", `
management: {auth: none}
integrations: {m: {type: MOCK}}
routes:
  $connect: {integration: m, authorizationType: AWS_IAM, apiKeyRequired: true, authorizerId: x}`,
			[]string{
				"routes.$connect.authorizationType: AWS_IAM needs iam.credentials",
				"routes.$connect.authorizerId: only with authorizationType CUSTOM or JWT",
				"routes.$connect.apiKeyRequired: no API keys: set apiKeys or apiKeysFile",
			}},
		{"operations", `
management: {auth: none}
listen: 127.0.0.1:8080
drainWindow: 20s
metrics: {listen: 127.0.0.1:8080}
stage:
  defaultRouteSettings: {throttlingBurstLimit: -1, throttlingRateLimit: -5, loggingLevel: DEBUG}
  routeSettings: {sendMesage: {throttlingRateLimit: 1}}
  accessLogSettings: {destination: ""}
  limits: {messageRateLimit: 10, handshakeRateLimitPerIp: -1, maxConnectionsPerIp: -2}
models:
  Bad: "{not json"
integrations: {m: {type: MOCK}}
routes:
  sendMessage: {integration: m, modelSelectionExpression: $request.body.type, requestModels: {email: Missing}}`,
			[]string{
				"metrics.listen: must differ from listen",
				"drainWindow: 20s: want 0 or more, and less than shutdownTimeout (10s)",
				"stage.defaultRouteSettings.throttlingBurstLimit: must not be negative",
				"stage.defaultRouteSettings.throttlingRateLimit: want a number",
				`stage.defaultRouteSettings.loggingLevel: "DEBUG": want INFO, ERROR or OFF`,
				`stage.routeSettings.sendMesage: no route "sendMesage" (did you mean "sendMessage"?)`,
				"stage.accessLogSettings.format: required",
				"stage.limits.messageBurstLimit: required with messageRateLimit",
				"stage.limits.handshakeRateLimitPerIp: want handshakes per second",
				"stage.limits.maxConnectionsPerIp: must not be negative",
				"models.Bad: not valid JSON",
			}},
		{"no routes", `management: {auth: none}`, []string{"routes: no routes"}},
		{"not yaml", "listen: [", []string{"not valid YAML"}},
		{"empty", "", []string{"config: the file is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(nil))
			var p Problems
			if !errors.As(err, &p) {
				t.Fatalf("Parse error = %v, want Problems", err)
			}
			all := p.Error()
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems lack %q; got:\n%s", w, all)
				}
			}
			for _, line := range p {
				if !strings.Contains(line, ": ") {
					t.Errorf("problem %q does not start with a path", line)
				}
			}
		})
	}
}

func TestEnvDefaultSyntax(t *testing.T) {
	cfg, err := Parse([]byte(`
listen: "${HOST:-127.0.0.1}:${PORT:-9999}"
management: {auth: none}
integrations: {m: {type: MOCK}}
routes: {$default: {integration: m}}`), env(map[string]string{"PORT": "7000"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7000" {
		t.Errorf("listen = %q, want 127.0.0.1:7000", cfg.Listen)
	}
}

func TestDemoIsValid(t *testing.T) {
	cfg := Demo()
	if cfg.Listen != "127.0.0.1:8080" || cfg.Stage.Name != "dev" {
		t.Errorf("demo listens on %s stage %s", cfg.Listen, cfg.Stage.Name)
	}
	if cfg.Routes["$default"] == nil || cfg.Routes["whoami"] == nil {
		t.Error("demo lacks its echo and whoami routes")
	}
}

func TestDeriveAPIID(t *testing.T) {
	a, b := DeriveAPIID("chat"), DeriveAPIID("chat")
	if a != b || len(a) != 10 || !apiIDRE.MatchString(a) || a == DeriveAPIID("other") {
		t.Errorf("DeriveAPIID: %q %q", a, b)
	}
}

func TestModelsAndRouteSettings(t *testing.T) {
	cfg, err := Parse([]byte(`
management: {auth: none}
stage:
  defaultRouteSettings: {throttlingRateLimit: 100}
  routeSettings: {sendMessage: {throttlingBurstLimit: 0, detailedMetricsEnabled: true}}
models:
  Message:
    type: object
    required: [text]
    properties: {text: {type: string, maxLength: 5}}
  Raw: '{"type": "object"}'
integrations: {m: {type: MOCK}}
routes:
  sendMessage: {integration: m, modelSelectionExpression: $default, requestModels: {$default: Message}}
  $default: {integration: m}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	set, err := cfg.ModelSet()
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate("sendMessage", []byte(`{"text":"hi"}`)); err != nil {
		t.Errorf("valid message: %v", err)
	}
	if err := set.Validate("sendMessage", []byte(`{"text":"too long"}`)); err == nil {
		t.Error("a message over maxLength passed its model")
	}
	if burst, rate, throttled, detailed := cfg.EffectiveRouteSettings("sendMessage"); burst != 0 || rate != 100 || !throttled || !detailed {
		t.Errorf("sendMessage settings: %d %v %v %v", burst, rate, throttled, detailed)
	}
	if burst, rate, throttled, detailed := cfg.EffectiveRouteSettings("$default"); burst != DefaultThrottlingBurstLimit || rate != 100 || !throttled || detailed {
		t.Errorf("$default settings: %d %v %v %v", burst, rate, throttled, detailed)
	}
	cfg.Stage.DefaultRouteSettings = RouteSettings{}
	if _, _, throttled, _ := cfg.EffectiveRouteSettings("$default"); throttled {
		t.Error("a route with no throttling settings is throttled")
	}
}

// A broken model and a route's model settings are reported at their paths.
func TestModelProblemPaths(t *testing.T) {
	_, err := Parse([]byte(`
management: {auth: none}
models: {A: {type: 1}, B: {type: object}}
integrations: {m: {type: MOCK}}
routes:
  r: {integration: m, modelSelectionExpression: $default, requestModels: {$default: C}}
`), env(nil))
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Parse error = %v, want Problems", err)
	}
	for _, prefix := range []string{"models.A: ", `routes.r: requestModels["$default"]: unknown model "C"`} {
		found := false
		for _, problem := range p {
			found = found || strings.HasPrefix(problem, prefix)
		}
		if !found {
			t.Errorf("no problem starts with %q in %q", prefix, p)
		}
	}
}

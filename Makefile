# Switchboard's everyday commands. `make test` is what CI runs, with `make lint`.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test lint bench bench-micro check build fuzz

## test: every test, with the race detector (starts real gateways, Node.js for test/nodechat);
## the end-to-end suites run once more with the portable goroutine-per-connection reader
test:
	$(GO) test -race -count=1 -timeout 10m ./...
	SWITCHBOARD_TEST_READER=goroutine $(GO) test -race -count=1 -timeout 10m ./internal/server ./cmd/switchboard

## lint: formatting, go vet and staticcheck (pinned; fetched through the module proxy)
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## check: lint and test
check: lint test

## build: the binary at bin/switchboard
build:
	$(GO) build -o bin/switchboard ./cmd/switchboard

## bench: the quick benchmark profile (under 2 minutes): every scenario of cmd/switchboard-bench against the
##        gateway and its baselines; tables on stdout, results in bench/results/<date>-<commit>.json (bench/README.md)
bench:
	$(GO) build -o bin/switchboard-bench ./cmd/switchboard-bench
	bin/switchboard-bench run --profile quick --results bench/results

## bench-micro: Go benchmarks: route selection, event encoding, SigV4, idle memory and echo in-process
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/route ./internal/awsapi ./internal/sigv4
	$(GO) test -run '^$$' -bench 'IdleMemory' -benchtime=1x ./internal/server
	$(GO) test -run '^$$' -bench 'Echo' -benchtime=3s -count=3 ./internal/server

## fuzz: each fuzz target for 30 s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCompileEval -fuzztime 30s ./internal/route
	$(GO) test -run '^$$' -fuzz FuzzAppendJSONString -fuzztime 30s ./internal/awsapi
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./internal/sigv4
	$(GO) test -run '^$$' -fuzz FuzzReadHeader -fuzztime 30s ./internal/session
	$(GO) test -run '^$$' -fuzz FuzzParseHead -fuzztime 30s ./internal/server
	$(GO) test -run '^$$' -fuzz FuzzParseIdentitySource -fuzztime 30s ./internal/authorizer
	$(GO) test -run '^$$' -fuzz FuzzPolicyMatch -fuzztime 30s ./internal/authorizer
	$(GO) test -run '^$$' -fuzz FuzzParseResponse -fuzztime 30s ./internal/authorizer
	$(GO) test -run '^$$' -fuzz FuzzAuthorize -fuzztime 30s ./internal/jwtauth

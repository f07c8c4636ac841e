# Switchboard's everyday commands. `make test` is what CI runs, with `make lint`.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test lint bench check build fuzz

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

## bench: micro-benchmarks, idle memory per connection, echo through the gateway vs bare gobwas/ws
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/route ./internal/awsapi ./internal/sigv4
	$(GO) test -run '^$$' -bench 'IdleMemory' -benchtime=1x ./internal/server
	$(GO) test -run '^$$' -bench 'Echo' -benchtime=3s -count=3 ./internal/server

## fuzz: each fuzz target for 30 s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCompileEval -fuzztime 30s ./internal/route
	$(GO) test -run '^$$' -fuzz FuzzAppendJSONString -fuzztime 30s ./internal/awsapi
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./internal/sigv4
	$(GO) test -run '^$$' -fuzz FuzzReadHeader -fuzztime 30s ./internal/session

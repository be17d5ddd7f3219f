# Ounce — `make run` starts everything, `make test` tests everything.
SHELL        := /bin/bash
MODULES      := pkg schemas services/gateway services/ingest services/loader services/ounce services/query
SHARED_DATA  ?= $(abspath ../shared/data)
DATA_DIR     ?= ./.ounce
# Tests read the real recordings from ../shared/data.
export OUNCE_SHARED_DATA ?= $(SHARED_DATA)
MIRROR       := $(if $(wildcard $(SHARED_DATA)),--mirror $(SHARED_DATA),)
BENCHTIME    ?= 1x
FUZZTIME     ?= 30s

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

run: clickhouse-installed ## run every service in one process (embedded NATS, managed ClickHouse, feeds from ../shared/data when present)
	go run ./services/ounce dev --data-dir $(DATA_DIR) $(MIRROR) $(ARGS)

clickhouse-installed: # apt-get install clickhouse-server when it is missing on Debian/Ubuntu
	@if command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing clickhouse-server with apt-get"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y clickhouse-server clickhouse-client; \
	else echo "install ClickHouse (https://clickhouse.com/docs/install) or run: make run ARGS=--clickhouse-dsn=clickhouse://host:9000/ounce"; exit 1; fi

chromium-installed: # apt-get install chromium (the dashboard's browser test) when it is missing on Debian/Ubuntu
	@if [ -n "$$OUNCE_TEST_CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing chromium with apt-get"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	else echo "install Chromium, or set OUNCE_TEST_CHROMIUM to a Chrome/Chromium binary"; exit 1; fi

# Every test runs: a missing ClickHouse or Chromium fails the run rather than
# skipping (OUNCE_INTEGRATION=0 turns that off). Each test binary starts its
# own ClickHouse when none answers at OUNCE_TEST_CLICKHOUSE_DSN.
test: clickhouse-installed chromium-installed ## run every module's tests, integration tests on a real ClickHouse, embedded NATS and a real browser included
	go vet work
	OUNCE_INTEGRATION=$${OUNCE_INTEGRATION:-1} go test -count=1 -timeout 30m work

test-integration: ## the integration tests only, failing (not skipping) when ClickHouse is missing
	OUNCE_INTEGRATION=1 go test -count=1 -timeout 30m -run Integration work

# The fault suite: ounce dev killed with SIGKILL at several moments of its
# first load and while partners push, and its ClickHouse killed mid-load;
# every run must end equal to a clean one (services/ounce/faults_test.go).
test-faults: clickhouse-installed ## the fault suite: kill -9 of ounce dev and of its ClickHouse, each run compared with a clean load
	OUNCE_INTEGRATION=1 go test -tags faults -count=1 -timeout 20m -run Faults -v ./services/ounce

bench: clickhouse-installed ## benchmarks: loader vs raw insert, decoders, query latency (results in the README)
	OUNCE_INTEGRATION=$${OUNCE_INTEGRATION:-1} go test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m work

fuzz: ## run every fuzz target of every module for FUZZTIME each
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg services | xargs -n1 dirname | sort -u); do \
	  for f in $$(go test -list '^Fuzz' ./$$dir | grep '^Fuzz'); do \
	    echo "== $$dir $$f"; go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./$$dir || exit 1; \
	  done; \
	done

lint: lint-openapi ## go vet, gofmt and the OpenAPI documents
	go vet work
	go vet -tags faults ./services/ounce
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The OpenAPI linter, pinned, installed from the npm registry into .tools/.
REDOCLY_VERSION := 2.77.0
REDOCLY        := .tools/redocly-$(REDOCLY_VERSION)/node_modules/.bin/redocly
$(REDOCLY):
	npm install --prefix .tools/redocly-$(REDOCLY_VERSION) --no-audit --no-fund --loglevel=error @redocly/cli@$(REDOCLY_VERSION)

lint-openapi: $(REDOCLY) ## lint schemas/openapi/*.yaml with Redocly's recommended-strict rules
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint --config schemas/openapi/redocly.yaml \
	  schemas/openapi/query.yaml schemas/openapi/gateway.yaml

fmt: ## gofmt every module
	gofmt -w $(MODULES)

tidy: ## go mod tidy in every module, then go work sync
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done
	go work sync

build: ## build every binary into ./bin
	go build -o bin/ ./services/ounce ./services/loader/cmd/ounce-loader ./services/query/cmd/ounce-query ./services/ingest/cmd/ounce-ingest ./services/gateway/cmd/ounce-gateway

clean: ## remove ./bin, the dev data directory and the tools in .tools
	rm -rf bin $(DATA_DIR) .tools

.PHONY: help run clickhouse-installed chromium-installed lint-openapi test test-integration test-faults bench fuzz lint fmt tidy build clean

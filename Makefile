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

test: ## run every module's tests, integration tests on a real ClickHouse and embedded NATS included
	go vet work
	go test -count=1 -timeout 30m work

test-integration: ## the integration tests only, failing (not skipping) when ClickHouse is missing
	OUNCE_INTEGRATION=1 go test -count=1 -timeout 30m -run Integration work

bench: ## benchmarks: loader vs raw insert, decoders, query latency (results in the README)
	go test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m work

fuzz: ## run each fuzz test for FUZZTIME
	go test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./pkg/observation

lint: ## go vet and gofmt
	go vet work
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt: ## gofmt every module
	gofmt -w $(MODULES)

tidy: ## go mod tidy in every module, then go work sync
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done
	go work sync

build: ## build the binaries into ./bin
	go build -o bin/ ./services/ounce ./services/loader/cmd/ounce-loader ./services/query/cmd/ounce-query ./services/ingest/cmd/ounce-ingest

clean: ## remove ./bin and the dev data directory
	rm -rf bin $(DATA_DIR)

.PHONY: help run clickhouse-installed test test-integration bench fuzz lint fmt tidy build clean

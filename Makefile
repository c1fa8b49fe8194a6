# Fieldline build, test and run targets. `make help` lists them.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BUILD    ?= $(shell date -u +%Y-%m-%d)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.buildDate=$(BUILD)
BIN      := bin
DIST     := dist
# Packages whose tests run under the race detector (all of them: concurrency
# bugs are how telemetry gets lost).
RACE_PKGS := ./...
# Packages with allocation tests (testing.AllocsPerRun): those skip under the
# race detector, which allocates, so `make test` runs them once more without
# it. Their names hold "Alloc" (internal/testbed/ci_test.go checks).
# (The "(" after AllocsPerRun comes from a variable: a bare one would unbalance
# the parentheses of $(shell ...).)
lparen := (
ALLOC_PKGS = $(shell grep -rl --include='*_test.go' 'testing\.AllocsPerRun$(lparen)' . | xargs -r -n1 dirname | sort -u)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# AGENT_TAGS: nethttpomithttp2 leaves HTTP/2 out of net/http (the agent serves
# /metrics over HTTP/1.1 on loopback and dials no HTTP/2 server); it is a
# third of a megabyte of the arm64 binary (docs/benchmarks.md).
# internal/testbed/agentrun.Tags must match.
AGENT_TAGS    := nethttpomithttp2
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12

.PHONY: help build dashboard-assets test test-kafka cross footprint footprint-rss footprint-telegraf demo bench bench-kafka fuzz lint generate clean

help:
	@echo "make build       build the three binaries into $(BIN)/"
	@echo "make test        vet and run every test with the race detector (kfake, embedded NATS, real MQTT/Modbus peers),"
	@echo "                 then the allocation tests without it"
	@echo "make test-kafka  the integration suite against a real Apache Kafka broker (fetched through Maven)"
	@echo "make cross       build the agent for linux/arm (v7), arm64, amd64, riscv64 into $(DIST)/, check its size and memory"
	@echo "                 budgets and run the arm64 agent end to end under qemu"
	@echo "make footprint-rss  memory, CPU and uplink bytes per reading of the agent, 50 and 500 sensors at 1 Hz (RSS_SENSORS, RSS_HZ, RSS_DURATION, RSS_WRITE_DELAY, RSS_PIPELINE)"
	@echo "make footprint-telegraf  Telegraf (Modbus in, Kafka out, built from the module cache) on the agent's 1,000-register workload (TELEGRAF_DURATION, TELEGRAF_FLUSH)"
	@echo "make dashboard-assets  bundle the dashboard's charts (uPlot, esbuild; needs Node.js and npm) for go:embed"
	@echo "make demo        run the whole system on this machine (embedded NATS and Kafka, simulators, three agents,"
	@echo "                 bridge, processor, dashboard) and print the dashboard's address"
	@echo "make bench       run the benchmarks and the end-to-end load run"
	@echo "make bench-kafka the end-to-end runs of make bench against a real Apache Kafka broker (also run by make bench)"
	@echo "make fuzz        run every fuzz target for FUZZTIME each (default 20s)"
	@echo "make lint        go vet and staticcheck"
	@echo "make generate    regenerate the protobuf code (needs protoc)"

build: dashboard-assets
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(AGENT_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ ./agent/cmd/fieldline-agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cloud/cmd/fieldline-cloud ./firmware-sim/cmd/fieldline-sim

# The dashboard's chart bundle (cloud/dashboard/web/dist, embedded by the
# cloud binary): uPlot and esbuild pinned by package-lock.json, installed by
# `npm ci`. Without Node.js and npm it says so and the binary serves the
# basic page (hand-drawn sparklines) instead; with FL_REQUIRE_TOOLS=1 (CI) it
# fails.
DASH_WEB := cloud/dashboard/web
dashboard-assets:
	@if command -v npm >/dev/null 2>&1; then \
		cd $(DASH_WEB) && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && \
		npm run --silent build && cp app/style.css dist/ && \
		sed 's|<!--charts-css-->|<link rel="stylesheet" href="main.css">|' app/index.html > dist/index.html; \
	elif [ "$$FL_REQUIRE_TOOLS" = 1 ]; then echo "dashboard-assets: npm not found (FL_REQUIRE_TOOLS=1: Node.js and npm must be installed)"; exit 1; \
	else echo "dashboard-assets: npm not found: the dashboard serves its basic page (install Node.js and npm for the full charts)"; fi

# Files tests keep for a person to look at (the browser test's screenshots),
# under test-artifacts/_artifacts/ (gitignored); each test prints its folder.
ARTIFACTS := $(CURDIR)/test-artifacts
test: dashboard-assets
	$(GO) vet ./...
	@mkdir -p $(ARTIFACTS)
	$(GO) test -race -timeout 15m -artifacts -outputdir $(ARTIFACTS) $(RACE_PKGS)
	@echo "test artifacts (the dashboard's screenshots from its browser test): $$(ls -dt $$(find $(ARTIFACTS)/_artifacts -name 1-fleet.png -printf '%h\n' 2>/dev/null) 2>/dev/null | head -1)"
	@# The processor's 2 M-reading backlog test runs a tenth of its readings
	@# under -race (about ten times slower); here it runs whole, without.
	$(GO) test -count=1 -timeout 10m -run '^TestBacklog$$' ./cloud/processor/
	$(GO) test -count=1 -run Alloc $(ALLOC_PKGS)

# The same integration suite as `make test` (bridge, agent end to end), this
# time against a real single-node Kafka 4 broker started from Maven jars.
test-kafka:
	@set -e; out=$$(scripts/kafka/kafka.sh start); echo "$$out"; \
	export $$(echo "$$out" | tail -1); export FL_KAFKA_CTL=$(CURDIR)/scripts/kafka/kafka.sh; \
	trap 'scripts/kafka/kafka.sh stop' EXIT; \
	$(GO) test -race -count=1 -timeout 20m ./cloud/... ./agent/... ./internal/testbed/e2e/...

# The agent for the gateways.
CROSS_TARGETS := arm:7 arm64: amd64: riscv64:
# The footprint-rss run: sensor counts and how long each runs (docs/benchmarks.md).
RSS_SENSORS   ?= 50,500
RSS_HZ        ?= 1
RSS_HOLD      ?= 0s
RSS_WRITE_DELAY ?= 1s
RSS_PIPELINE  ?= 1
RSS_DURATION  ?= 60s

cross:
	@mkdir -p $(DIST)
	@for t in $(CROSS_TARGETS); do \
		arch=$${t%%:*}; arm=$${t#*:}; \
		echo "building fieldline-agent for linux/$$arch$${arm:+ v$$arm}"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -tags '$(AGENT_TAGS)' -ldflags '$(LDFLAGS)' \
			-o $(DIST)/fieldline-agent-linux-$$arch ./agent/cmd/fieldline-agent || exit 1; \
	done
	@ls -l $(DIST)/fieldline-agent-linux-*
	@echo "== the cross builds run (version stamps) and the arm64 agent end to end under qemu-aarch64-static"
	$(GO) vet -tags qemu ./internal/testbed/qemu/
	FL_DIST=$(CURDIR)/$(DIST) FL_VERSION=$(VERSION) FL_BUILD_DATE=$(BUILD) \
		$(GO) test -tags qemu -count=1 -timeout 15m ./internal/testbed/qemu/
	@$(MAKE) --no-print-directory footprint-rss
	@$(MAKE) --no-print-directory footprint-telegraf TELEGRAF_DURATION=15s TELEGRAF_FLUSH=1s
	@# Last, so that an over-budget binary still gets the runs above.
	@$(MAKE) --no-print-directory footprint

# The arm64 agent binary must stay within its budget of 15 MB (15,000,000
# bytes); docs/benchmarks.md has the figures.
footprint:
	@scripts/footprint.sh $(DIST)/fieldline-agent-linux-arm64

# Resident memory, CPU per reading and uplink bytes per reading of the real
# amd64 agent polling RSS_SENSORS simulated Modbus registers at RSS_HZ for
# RSS_DURATION each; fails over 30 MB steady with 500 sensors at 1 Hz.
footprint-rss:
	$(GO) vet -tags footprint ./internal/testbed/footprint/
	FL_RSS_SENSORS=$(RSS_SENSORS) FL_RSS_HZ=$(RSS_HZ) FL_RSS_HOLD=$(RSS_HOLD) FL_RSS_WRITE_DELAY=$(RSS_WRITE_DELAY) FL_RSS_PIPELINE=$(RSS_PIPELINE) FL_RSS_DURATION=$(RSS_DURATION) FL_DIST=$(CURDIR)/$(DIST) \
		$(GO) test -tags footprint -count=1 -v -run TestSteadyRSS -timeout 30m ./internal/testbed/footprint/

# Telegraf beside the agent (issue 19): the minimal Telegraf (Modbus in,
# Kafka out) built from the module cache into $(DIST)/telegraf, run on the
# agent's footprint workload (docs/benchmarks.md, "Telegraf on this machine").
TELEGRAF_DURATION ?= 40s
TELEGRAF_FLUSH    ?= 1s,10s
footprint-telegraf:
	scripts/telegraf-build.sh $(DIST)/telegraf
	FL_TELEGRAF=$(CURDIR)/$(DIST)/telegraf/telegraf FL_RSS_SENSORS=1000 FL_RSS_HZ=1 FL_RSS_DURATION=$(TELEGRAF_DURATION) FL_TELEGRAF_FLUSH=$(TELEGRAF_FLUSH) \
		$(GO) test -tags footprint -count=1 -v -run TestTelegrafRSS -timeout 20m ./internal/testbed/footprint/

demo: build
	$(BIN)/fieldline-cloud demo --bin $(BIN)

bench: dashboard-assets
	$(GO) test -run '^$$' -bench . -benchtime 1s ./protocols/... ./buffer/... ./rules/... ./cloud/...
	$(GO) run ./cloud/cmd/fieldline-cloud bench
	@echo "== latency and flash writes with buffer.write_delay 0 (every commit written and fsynced; the default 1s writes what the cloud acks within it never)"
	$(GO) run ./cloud/cmd/fieldline-cloud bench --mode latency --write-delay 0
	$(GO) run ./cloud/cmd/fieldline-cloud process-bench
	@echo "== the agent polling 1,000 Modbus registers at 1 and 10 Hz: memory, CPU and uplink bytes per reading"
	@$(MAKE) --no-print-directory footprint-rss RSS_SENSORS=1000 RSS_HZ=1,10
	@echo "== the same with buffer.write_delay 0 (every commit written and fsynced)"
	@$(MAKE) --no-print-directory footprint-rss RSS_SENSORS=1000 RSS_HZ=1,10 RSS_WRITE_DELAY=0s
	@echo "== the same with the Modbus source's pipeline 8 (a poll's eight requests sent together)"
	@$(MAKE) --no-print-directory footprint-rss RSS_SENSORS=1000 RSS_HZ=1,10 RSS_PIPELINE=8
	@echo "== 50 sensors at 1 Hz with a 10 s telemetry hold (uplink bytes per reading)"
	@$(MAKE) --no-print-directory footprint-rss RSS_SENSORS=50 RSS_HZ=1 RSS_HOLD=10s
	@echo "== Telegraf (minimal: Modbus in, Kafka out) on the same 1,000 registers at 1 Hz"
	@$(MAKE) --no-print-directory footprint-telegraf
	@$(MAKE) --no-print-directory bench-kafka

# The end-to-end runs of `make bench` again against a real Apache Kafka 4
# broker on this machine (jars fetched by Maven, the machine's Java): the
# agents' throughput into Kafka and the processor's.
bench-kafka:
	@set -e; out=$$(scripts/kafka/kafka.sh start); echo "$$out"; \
	export $$(echo "$$out" | tail -1); \
	trap 'scripts/kafka/kafka.sh stop' EXIT; \
	$(GO) run ./cloud/cmd/fieldline-cloud bench --kafka $$FL_KAFKA_BROKERS; \
	$(GO) run ./cloud/cmd/fieldline-cloud process-bench --kafka $$FL_KAFKA_BROKERS

# Every decoder and parser has a fuzz target; its seed corpus is in the
# package's testdata/fuzz/ and runs as a plain test under `make test`.
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

generate:
	$(GO) install $(PROTOC_GEN_GO)
	cd protocols/wire/wirepb && PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative fieldline.proto

clean:
	rm -rf $(BIN) $(DIST) $(ARTIFACTS)

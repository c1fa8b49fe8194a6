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
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12

.PHONY: help build test test-kafka cross footprint demo bench lint generate clean

help:
	@echo "make build       build the three binaries into $(BIN)/"
	@echo "make test        vet and run every test with the race detector (kfake, embedded NATS, real MQTT/Modbus peers)"
	@echo "make test-kafka  the integration suite against a real Apache Kafka broker (fetched through Maven)"
	@echo "make cross       build the agent for linux/arm (v7), arm64, amd64, riscv64 into $(DIST)/ and check its size budget"
	@echo "make demo        run NATS, Kafka, a simulator, an agent and the bridge on this machine"
	@echo "make bench       run the benchmarks and the end-to-end load run"
	@echo "make lint        go vet and staticcheck"
	@echo "make generate    regenerate the protobuf code (needs protoc)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./agent/cmd/fieldline-agent ./cloud/cmd/fieldline-cloud ./firmware-sim/cmd/fieldline-sim

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 15m $(RACE_PKGS)

# The same integration suite as `make test` (bridge, agent end to end), this
# time against a real single-node Kafka 4 broker started from Maven jars.
test-kafka:
	@set -e; out=$$(scripts/kafka/kafka.sh start); echo "$$out"; \
	export $$(echo "$$out" | tail -1); export FL_KAFKA_CTL=$(CURDIR)/scripts/kafka/kafka.sh; \
	trap 'scripts/kafka/kafka.sh stop' EXIT; \
	$(GO) test -race -count=1 -timeout 20m ./cloud/... ./agent/... ./internal/e2e/...

cross:
	@mkdir -p $(DIST)
	@for t in arm:7 arm64: amd64: riscv64:; do \
		arch=$${t%%:*}; arm=$${t#*:}; \
		echo "building fieldline-agent for linux/$$arch$${arm:+ v$$arm}"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(DIST)/fieldline-agent-linux-$$arch ./agent/cmd/fieldline-agent || exit 1; \
	done
	@$(MAKE) --no-print-directory footprint

# The arm64 agent binary must stay within its budget (docs/benchmarks.md).
footprint:
	@scripts/footprint.sh $(DIST)/fieldline-agent-linux-arm64

demo: build
	$(BIN)/fieldline-cloud demo --bin $(BIN)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./protocols/... ./buffer/... ./rules/... ./cloud/...
	$(GO) run ./cloud/cmd/fieldline-cloud bench

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

generate:
	$(GO) install $(PROTOC_GEN_GO)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative protocols/wire/wirepb/fieldline.proto

clean:
	rm -rf $(BIN) $(DIST)

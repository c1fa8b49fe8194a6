package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// forbidden are import paths (and everything below them) that must never be
// linked into the agent: the gateway runs no broker, talks to no Kafka and
// serves no web assets; the simulators belong to the cloud binary and the
// tests, the test tier (internal/testbed, the testing package) to the tests
// alone.
var forbidden = []struct{ prefix, why string }{
	{"github.com/nats-io/nats-server", "a NATS server (the agent is a client only)"},
	{"github.com/nats-io/nats.go/jetstream", "nats.go's newer JetStream API: 590 KB of the arm64 binary, where the rule sync's JetStreamContext.KeyValue costs nothing (docs/benchmarks.md)"},
	{"github.com/twmb/franz-go", "a Kafka client or kfake (only the bridge talks to Kafka)"},
	{"github.com/mochi-mqtt/server", "an MQTT broker (the agent subscribes to one)"},
	{"github.com/fieldline/fieldline/internal/embedded", "the embedded NATS and Kafka of the demo"},
	{"github.com/fieldline/fieldline/internal/testbed", "the test harness (test infrastructure)"},
	{"testing", "the standard library's test framework (production code never imports it)"},
	{"github.com/fieldline/fieldline/cloud", "cloud code (bridge, demo, dashboard)"},
	{"github.com/fieldline/fieldline/firmware-sim", "the device simulators"},
	{"github.com/fieldline/fieldline/protocols/wire/wirepb", "the generated protobuf code (package wire writes the messages by hand; wirepb is the tests' reference)"},
	{"github.com/prometheus/client_golang", "client_golang: its data model is protobuf (internal/metrics writes the agent's /metrics; 2 MB of the arm64 binary, docs/benchmarks.md)"},
	{"github.com/prometheus/client_model", "client_golang's protobuf data model"},
	{"google.golang.org/protobuf/proto", "the protobuf runtime (package wire writes the messages with protowire alone)"},
	{"google.golang.org/protobuf/reflect", "protobuf reflection"},
	{"google.golang.org/protobuf/runtime", "the protobuf runtime"},
	{"google.golang.org/protobuf/internal/impl", "the protobuf runtime"},
	{"google.golang.org/protobuf/types", "protobuf well-known types"},
	{"html/template", "web pages"},
	{"net/http/pprof", "a profiling endpoint on the gateway"},
}

// embedAllowed are the only kinds of files a linked package may embed: the
// sample configs. Anything else (.html, .js, .css, images) would be web
// assets.
var embedAllowed = []string{".yaml"}

// crossTargets are the platforms `make cross` builds; dependencies differ by
// architecture (periph's board drivers), so each is checked.
var crossTargets = []struct{ goos, goarch, goarm string }{
	{"linux", "arm", "7"}, {"linux", "arm64", ""}, {"linux", "amd64", ""}, {"linux", "riscv64", ""},
}

type listedPackage struct {
	ImportPath string
	EmbedFiles []string
}

// listDeps returns the packages pkg links on a platform, as `go list -deps`
// sees them with the agent's build tags.
func listDeps(t *testing.T, pkg, goos, goarch, goarm string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", agentTags, "-json=ImportPath,EmbedFiles", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOARM="+goarm)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %s for %s/%s: %v\n%s", pkg, goos, goarch, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages for %s: %v", len(pkgs), pkg, pkgs)
	}
	return pkgs
}

// depProblems lists every forbidden import and embedded asset among pkgs.
func depProblems(pkgs []listedPackage) []string {
	var problems []string
	for _, p := range pkgs {
		for _, f := range forbidden {
			if p.ImportPath == f.prefix || strings.HasPrefix(p.ImportPath, f.prefix+"/") {
				problems = append(problems, fmt.Sprintf("links %s: %s", p.ImportPath, f.why))
				break
			}
		}
		for _, e := range p.EmbedFiles {
			if !slices.Contains(embedAllowed, path.Ext(e)) {
				problems = append(problems, fmt.Sprintf("%s embeds %s (only %v may be embedded)", p.ImportPath, e, embedAllowed))
			}
		}
	}
	return problems
}

// TestAgentLinksNoBrokerKafkaOrWebAssets is the check docs/architecture.md
// promises: the agent binary, on every platform it is built for, links no
// broker, no Kafka client, no simulator or test kit and embeds no web assets.
func TestAgentLinksNoBrokerKafkaOrWebAssets(t *testing.T) {
	for _, tg := range crossTargets {
		t.Run(tg.goos+"-"+tg.goarch, func(t *testing.T) {
			pkgs := listDeps(t, "github.com/fieldline/fieldline/agent/cmd/fieldline-agent", tg.goos, tg.goarch, tg.goarm)
			for _, p := range depProblems(pkgs) {
				t.Errorf("fieldline-agent for %s/%s %s", tg.goos, tg.goarch, p)
			}
			// The features the issues require stay linked.
			for _, want := range []string{
				"github.com/fieldline/fieldline/internal/metrics",
				"google.golang.org/protobuf/encoding/protowire",
				"periph.io/x/conn/v3/gpio",
				"github.com/eclipse/paho.golang/paho",
				"github.com/simonvetter/modbus",
				"github.com/expr-lang/expr",
				"github.com/nats-io/nats.go",
				"github.com/nats-io/nkeys",
				"crypto/tls",
			} {
				if !slices.ContainsFunc(pkgs, func(p listedPackage) bool { return p.ImportPath == want }) {
					t.Errorf("fieldline-agent for %s/%s no longer links %s", tg.goos, tg.goarch, want)
				}
			}
		})
	}
}

// TestDepCheckCatchesABroker proves the check fails where it should: the
// test kit links the NATS server, franz-go and kfake.
func TestDepCheckCatchesABroker(t *testing.T) {
	pkgs := listDeps(t, "github.com/fieldline/fieldline/internal/testbed/testkit", "linux", "amd64", "")
	got := strings.Join(depProblems(pkgs), "\n")
	for _, want := range []string{
		"links github.com/nats-io/nats-server/v2/server: a NATS server",
		"links github.com/twmb/franz-go/pkg/kfake: a Kafka client or kfake",
		"links github.com/fieldline/fieldline/internal/embedded: the embedded NATS and Kafka",
		"links testing: the standard library's test framework",
		"links github.com/fieldline/fieldline/internal/testbed/testkit: the test harness",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dependency check of internal/testbed/testkit does not report %q; it reported:\n%s", want, got)
		}
	}
	if p := depProblems([]listedPackage{{ImportPath: "example.com/dash", EmbedFiles: []string{"static/app.js", "sample.yaml"}}}); len(p) != 1 ||
		p[0] != "example.com/dash embeds static/app.js (only [.yaml] may be embedded)" {
		t.Errorf("embedded asset check: %q", p)
	}
}

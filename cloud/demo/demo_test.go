package demo

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// buildBinaries builds the agent and the simulator once for the test.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./agent/cmd/fieldline-agent", "./firmware-sim/cmd/fieldline-sim")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// TestDemoShowsReadingsInKafka runs the demo as `make demo` does and reads
// the readings back from its Kafka, with franz-go and with Debian's kcat.
func TestDemoShowsReadingsInKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the demo")
	}
	bin := buildBinaries(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.SyncBuffer
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Bin: bin, Agents: 2, Dir: t.TempDir(), Out: &out, Ready: func(a Addrs) { ready <- a }})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("demo not ready\n%s", out.String())
	}
	for _, want := range []string{"NATS       " + addrs.NATS, "Kafka      " + addrs.Kafka, "fieldline-cloud tail fl.readings --brokers " + addrs.Kafka + " -n 10"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	recs := testkit.NewConsumer(t, []string{addrs.Kafka}, "fl.readings").N(200, 60*time.Second)
	if len(recs) < 200 {
		t.Fatalf("%d readings in Kafka after 60s\n%s", len(recs), out.String())
	}
	agents := map[string]bool{}
	for _, r := range recs {
		agents[string(r.Key)] = true
	}
	if !agents["demo-001"] || !agents["demo-002"] {
		t.Errorf("readings from agents %v, want demo-001 and demo-002", agents)
	}
	if kcat, err := exec.LookPath("kcat"); err == nil {
		cmd := exec.Command(kcat, "-b", addrs.Kafka, "-t", "fl.readings", "-C", "-c", "10", "-f", "%k\n")
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		if n := strings.Count(string(got), "demo-00"); n != 10 {
			t.Errorf("kcat read %d readings, want 10:\n%s", n, got)
		}
	} else {
		testkit.Optional(t, "kcat not installed (Debian package kcat): checked with franz-go only")
	}
	// The progress line ticks.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "into Kafka") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "into Kafka") {
		t.Errorf("no progress line:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopping:") {
		t.Errorf("no clean stop line:\n%s", out.String())
	}
}

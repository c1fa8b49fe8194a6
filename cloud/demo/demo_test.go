package demo

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/rules/signed"
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
	// A bundle pushed to the demo's fleet with the demo's key applies on
	// its agents, as the banner says.
	if !strings.Contains(out.String(), "--fleet demo --nats "+addrs.NATS+" --key "+addrs.FleetKey) {
		t.Errorf("demo output does not say how to push rules:\n%s", out.String())
	}
	pushToDemo(t, addrs)
	if !strings.Contains(out.String(), "INSECURE   the demo's NATS has no accounts and its bridge runs with insecure: true") {
		t.Errorf("the demo's banner does not say it runs insecure:\n%s", out.String())
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

// pushToDemo pushes a bundle to fleet.demo with the demo's key and waits
// for every demo agent's /status to run it.
func pushToDemo(t *testing.T, addrs Addrs) {
	t.Helper()
	nc, err := nats.Connect(addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := signed.LoadPrivateKey(addrs.FleetKey)
	if err != nil {
		t.Fatal(err)
	}
	sig := signed.NewSigner(key)
	store, err := fleet.OpenStore(ctx, nc, fleet.Config{}, signed.NewKeyRing(sig.Public()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.Push(ctx, sig, fleet.Push{Key: "fleet.demo", Bundle: []byte("version: demo-1\nname: demo\nrules:\n  - {match: 'boiler.*', deadband: {absolute: 0.5}}\n")})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second}
	testkit.WaitFor(t, 30*time.Second, "the demo's agents to run the pushed bundle", func() bool {
		for _, h := range addrs.AgentHTTP {
			st, err := fetchStatus(client, h)
			if err != nil || st.RulesKey != "fleet.demo" || st.RulesRevision != p.Statement.Revision || st.RulesVersion != "demo-1" {
				return false
			}
		}
		return true
	})
}

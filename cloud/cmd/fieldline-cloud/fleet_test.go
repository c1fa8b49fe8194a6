package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestFleetCommands runs the fleet commands an operator runs, against an
// embedded NATS server with JetStream: keygen, push (and refusals), status,
// history, rollback, a canary and its abort, agents.
func TestFleetCommands(t *testing.T) {
	ns := testkit.NATS(t)
	dir := t.TempDir()
	want := func(args []string, code int, has ...string) string {
		t.Helper()
		c, out, errs := runCLI(t, args...)
		all := out + errs
		if c != code {
			t.Fatalf("%s: exit %d, want %d\n%s", strings.Join(args, " "), c, code, all)
		}
		for _, h := range has {
			if !strings.Contains(all, h) {
				t.Fatalf("%s: output lacks %q:\n%s", strings.Join(args, " "), h, all)
			}
		}
		return all
	}
	want([]string{"fleet", "keygen", "--out", dir}, 0, "private key: "+filepath.Join(dir, "fleet.key"), `rules: {trusted_keys: ["ed25519:`)
	if fi, err := os.Stat(filepath.Join(dir, "fleet.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", fi, err)
	}
	want([]string{"fleet", "keygen", "--out", dir}, 1, "file exists")

	good := filepath.Join(dir, "boiler.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("version: v1\nname: b\nrules:\n  - {match: 'boiler.*', deadband: {absolute: 1}}\n"), 0o644)
	os.WriteFile(bad, []byte("version: v2\nname: b\nrules:\n  - {match: 'a', deadband: {absolute: -1}}\n  - {match: 'b', min_interval: -1s}\n"), 0o644)
	conn := []string{"--nats", ns.URL(), "--key", filepath.Join(dir, "fleet.key")}
	fleetCmd := func(args ...string) []string { return append(append([]string{"fleet"}, args...), conn...) }

	want(fleetCmd("rules", "push", good, "--fleet", "boiler"), 0, `pushed fleet.boiler revision 1: bundle "b" version v1, signed with key`)
	want(fleetCmd("rules", "push", bad, "--fleet", "boiler"), 1, "rules[0].deadband.absolute", "rules[1].min_interval", "not pushed")
	want(fleetCmd("rules", "push", good), 2, "give exactly one of --fleet and --agent")
	want(fleetCmd("rules", "push", good, "--agent", "gw-1", "--canary", "10%"), 2, "give --fleet, not --agent")
	want(fleetCmd("rules", "push", good, "--fleet", "boiler", "--canary", "150%"), 2, `--canary "150%"`)
	os.Chmod(filepath.Join(dir, "fleet.key"), 0o640)
	want(fleetCmd("rules", "push", good, "--fleet", "boiler"), 1, "chmod 600")
	os.Chmod(filepath.Join(dir, "fleet.key"), 0o600)

	want(fleetCmd("rules", "status", "--fleet", "boiler"), 0, "fleet boiler\n", "bundle   fleet.boiler@1: b v1, signed", "canary   canary.boiler: none")

	// A value written straight into the bucket shows as refused.
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), "fl_rules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "fleet.boiler", []byte("version: evil\n")); err != nil {
		t.Fatal(err)
	}
	want(fleetCmd("rules", "status", "--fleet", "boiler"), 0, "fleet.boiler: REFUSED by agents: unsigned bundle")
	want(fleetCmd("rules", "history", "--fleet", "boiler"), 0, "REVISION", "1 ", "b v1", "REFUSED: unsigned bundle")
	want(fleetCmd("rules", "rollback", "--to", "1", "--fleet", "boiler"), 0, "rolled back to revision 1: pushed fleet.boiler revision 2")
	want(fleetCmd("rules", "rollback", "--to", "9", "--fleet", "boiler"), 1, "no verified revision 9")

	want(fleetCmd("rules", "push", good, "--fleet", "boiler", "--canary", "10%", "--watch", "1h"), 0, "pushed canary.boiler revision 3", "for 10% of fleet boiler", "watches it for 1h0m0s")
	want(fleetCmd("rules", "push", good, "--fleet", "boiler", "--canary-selector", "ring=early"), 1, "promote or abort it first")
	want(fleetCmd("rules", "status", "--fleet", "boiler"), 0, "canary.boiler@3: b v1 for 10%", "rollout  canary 3 (b v1) for 10%: watching")
	want(fleetCmd("rules", "promote", "--fleet", "boiler"), 1, "promote --force")
	want(fleetCmd("rules", "abort", "--fleet", "boiler", "--reason", "test"), 0, "canary 3 of boiler withdrawn")
	want(fleetCmd("rules", "status", "--fleet", "boiler"), 0, "canary.boiler@4: cleared", ": aborted at")
	want(fleetCmd("rules", "clear", "--agent", "gw-1"), 0, "pushed agent.gw-1 revision 5: clear")
	want(fleetCmd("agents"), 0, "no agent in the registry")
	want([]string{"fleet", "agents", "--nats", "nats://127.0.0.1:1", "--timeout", "200ms"}, 1, "no NATS server answers at nats://127.0.0.1:1")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/cloud/identity"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// TestProvisionAndRevoke: authority-init, a NATS server in operator mode
// from its config, provision (credentials 0600, a config the agent loads),
// the agent connected with them, revoke: its connection closes at once.
func TestProvisionAndRevoke(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority")
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
	want([]string{"fleet", "keygen", "--out", dir}, 0)
	want([]string{"fleet", "authority-init", "--authority", auth}, 0, "identity: {agents_account: A", "nats-server.conf")
	want([]string{"fleet", "authority-init", "--authority", auth}, 1, "exists")
	ns, err := embedded.StartNATS(embedded.NATSOptions{ConfigFile: filepath.Join(auth, identity.ServerConfigFile), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)

	out := filepath.Join(dir, "gw-a")
	os.Mkdir(out, 0o700)
	creds := filepath.Join(out, "gw-a.creds")
	want([]string{"fleet", "provision", "gw-a", "--fleet", "north", "--authority", auth, "--out", out, "--nats", ns.URL(),
		"--key", filepath.Join(dir, "fleet.key"), "--gateway-creds", creds}, 0, "agent gw-a: credentials "+creds, "trusted_keys: [\"ed25519:")
	if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("creds file: %v %v", fi, err)
	}
	cfg, err := agent.LoadConfig(filepath.Join(out, "gw-a.yaml"))
	if err != nil {
		t.Fatalf("the written config: %v", err)
	}
	if cfg.Agent.ID != "gw-a" || cfg.Agent.Fleet != "north" || cfg.Uplink.NATS.Creds != creds || cfg.Uplink.NATS.URL != ns.URL() || len(cfg.Rules.TrustedKeys) != 1 {
		t.Fatalf("config %+v %+v %+v", cfg.Agent, cfg.Uplink.NATS, cfg.Rules)
	}

	closed := make(chan struct{})
	nc, err := nats.Connect(ns.URL(), nats.UserCredentials(creds), nats.CustomInboxPrefix(uplink.InboxPrefix("gw-a")),
		nats.MaxReconnects(0), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("the provisioned agent: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish(uplink.StatusSubject("gw-a"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	want([]string{"fleet", "revoke", "gw-a", "--authority", auth, "--nats", ns.URL()}, 0, "revoked", "account JWT pushed to "+ns.URL())
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the revoked agent is still connected")
	}
	if _, err := nats.Connect(ns.URL(), nats.UserCredentials(creds)); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("revoked credentials: %v", err)
	}

	want([]string{"fleet", "revoke", "gw-zz", "--authority", auth, "--nats", ns.URL()}, 1, "not provisioned")
	want([]string{"fleet", "provision", "gw-a", "--authority", auth, "--out", out}, 1, "file exists")
	want([]string{"fleet", "provision", "gw a", "--authority", auth, "--out", out}, 2, "agent id")
	os.Chmod(filepath.Join(auth, "agents.nk"), 0o644)
	want([]string{"fleet", "provision", "gw-b", "--authority", auth, "--out", out}, 1, "agents.nk has mode 0644", "chmod 600")
}

// TestBridgeNeedsIdentityOrInsecure: the bridge command refuses to start
// without identity.agents_account unless told --insecure (or insecure:
// true in its file).
func TestBridgeNeedsIdentityOrInsecure(t *testing.T) {
	code, out, errs := runCLI(t, "bridge", "--nats", "nats://127.0.0.1:1", "--kafka", "127.0.0.1:1")
	if code != 1 || !strings.Contains(out+errs, "identity.agents_account: not set") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	cfg := filepath.Join(t.TempDir(), "bridge.yaml")
	os.WriteFile(cfg, []byte("bridge:\n  kafka: {brokers: [127.0.0.1:1]}\n"), 0o600)
	code, out, errs = runCLI(t, "bridge", "--config", cfg)
	if code != 1 || !strings.Contains(out+errs, "bridge.identity.agents_account: not set") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
}

package identity_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/cloud/identity"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"

	simfleet "github.com/fieldline/fieldline/firmware-sim/fleet"
)

// TestProvisionedSystem runs the real parts in operator mode with the
// credentials the authority issues: the bridge (bridge.creds, identity
// checked), the fleet store (fleet.creds) pushing a signed bundle, and an
// agent with its own provisioned credentials. Its readings reach Kafka,
// its heartbeat reaches the fleet's user, and it applies its fleet's
// bundle through the per-key watches its permissions allow; its sensor
// alias table is kept by the bridge in the CLOUD account's KV.
func TestProvisionedSystem(t *testing.T) {
	dir := t.TempDir()
	auth, err := identity.Init(filepath.Join(dir, "authority"), identity.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := embedded.StartNATS(embedded.NATSOptions{ConfigFile: auth.File(identity.ServerConfigFile), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	k := testkit.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The bridge, checking identities (its log and the agent's in logs).
	var logs testkit.SyncBuffer
	bm := bridge.NewMetrics(nil)
	br, err := bridge.New(bridge.Config{
		NATS:     uplink.NATSConfig{URL: ns.URL(), Creds: auth.File(identity.BridgeCreds)},
		Kafka:    bridge.KafkaConfig{Brokers: k.Brokers, ReadingsTopic: k.Topic("fl.readings"), DeadletterTopic: k.Topic("fl.deadletter")},
		Identity: bridge.IdentityConfig{AgentsAccount: auth.AgentsAccountKey()},
	}, bridge.Options{Metrics: bm, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	bctx, stopBridge := context.WithCancel(context.Background())
	bdone := make(chan error, 1)
	go func() { bdone <- br.Run(bctx) }()
	t.Cleanup(func() { stopBridge(); <-bdone })
	<-br.Ready()

	// The fleet tools push a signed bundle for fleet north.
	pub, priv, err := signed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := nats.Connect(ns.URL(), nats.UserCredentials(auth.File(identity.FleetCreds)))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	store, err := fleet.OpenStore(ctx, fc, fleet.Config{}, signed.NewKeyRing(pub))
	if err != nil {
		t.Fatalf("the fleet user opens the buckets: %v", err)
	}
	pushed, err := store.Push(ctx, signed.NewSigner(priv), fleet.Push{Key: signed.FleetKey("north"), Bundle: []byte("version: n1\nname: north\nrules:\n  - {match: 's*', deadband: {absolute: 0.1}}\n")})
	if err != nil {
		t.Fatal(err)
	}
	beats, err := fc.SubscribeSync(uplink.StatusSubject("gw-a"))
	if err != nil {
		t.Fatal(err)
	}

	// The agent, with its provisioned credentials.
	p, err := auth.Provision("gw-a", "north", "")
	if err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "gw-a.creds")
	if err := os.WriteFile(creds, p.Creds, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, `
agent: {id: gw-a, fleet: north, data_dir: %s, clock_sync: floor}
uplink: {nats: {url: %s, creds: %s}, retry_max: 1s}
rules: {trusted_keys: [%q]}
http: {listen: "off"}
`, filepath.Join(dir, "gw-a"), ns.URL(), creds, signed.FormatPublicKey(pub)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	src := &simfleet.Source{ID: "a", Sensors: 3, Prefix: "s", Interval: 50 * time.Millisecond}
	a, err := agent.New(*cfg, agent.Options{Sources: []agent.Source{src}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(context.Background())
	adone := make(chan error, 1)
	go func() { adone <- a.Run(actx) }()
	t.Cleanup(func() { stopAgent(); <-adone })
	select {
	case <-a.Ready():
	case err := <-adone:
		t.Fatalf("agent stopped: %v", err)
	}

	testkit.WaitFor(t, time.Minute, "the agent to run its fleet's bundle", func() bool {
		st := a.Status()
		return st.RulesKey == signed.FleetKey("north") && st.RulesRevision == pushed.Statement.Revision
	})
	if _, err := beats.NextMsg(30 * time.Second); err != nil {
		t.Fatalf("no heartbeat of gw-a reached the fleet's user: %v", err)
	}
	got := false
	testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings")).Until(time.Minute, func(r *kgo.Record) bool {
		got = string(r.Key) == "gw-a"
		return got
	})
	if !got {
		t.Fatal("no reading of gw-a reached Kafka")
	}
	// Its sensor aliases were announced and kept: the bridge may keep
	// them in its account's JetStream.
	if n := testutil.ToFloat64(bm.Births.WithLabelValues("ok")); n < 1 || !strings.Contains(logs.String(), "sensor aliases announced") {
		t.Errorf("%v alias tables stored by the bridge; agent log:\n%s", n, logs.String())
	}
	// Everything it did was within its permissions.
	if strings.Contains(strings.ToLower(logs.String()), "permissions violation") {
		t.Errorf("the agent went beyond its permissions:\n%s", logs.String())
	}
}

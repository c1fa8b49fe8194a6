package bridge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/identity"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// operatorNATS is a NATS server in operator mode (fleet authority init's
// configuration) and its authority.
func operatorNATS(t *testing.T) (*embedded.NATS, *identity.Authority) {
	t.Helper()
	auth, err := identity.Init(filepath.Join(t.TempDir(), "authority"), identity.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := embedded.StartNATS(embedded.NATSOptions{ConfigFile: auth.File(identity.ServerConfigFile), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	return ns, auth
}

// uplinkAs connects with creds (written 0600) the way an agent does.
func uplinkAs(t *testing.T, ns *embedded.NATS, agent string, creds []byte) *uplink.NATSClient {
	t.Helper()
	path := filepath.Join(t.TempDir(), agent+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := uplink.NATSConfig{URL: ns.URL(), Creds: path}
	nc, err := uplink.DialNATS(cfg, "test "+agent, nil, nats.CustomInboxPrefix(uplink.InboxPrefix(agent)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	testkit.WaitFor(t, 10*time.Second, "connected", nc.IsConnected)
	c, err := uplink.NewNATSClient(nc, agent, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBridgeChecksIdentity: in operator mode, a provisioned agent's batch
// goes through; a batch for gw-a sent by a user of the agents' account
// named otherwise (permissions that let it publish there: a mistake the
// bridge must not trust) is rejected, dead-lettered with the reason and
// counted.
func TestBridgeChecksIdentity(t *testing.T) {
	ns, auth := operatorNATS(t)
	e := startBridgeOn(t, ns, func(c *Config) {
		c.NATS.Creds = auth.File(identity.BridgeCreds)
		c.Identity.AgentsAccount = auth.AgentsAccountKey()
		c.Insecure = false
	}, Options{})
	now := time.Now()

	p, err := auth.Provision("gw-a", "north", "")
	if err != nil {
		t.Fatal(err)
	}
	a := uplinkAs(t, ns, "gw-a", p.Creds)
	good := encode(t, &fieldline.Batch{AgentID: "gw-a", FirstSeq: 1, Readings: readings(1, 10, now)})
	ack, err := a.Send(context.Background(), good)
	if err != nil || !ack.OK {
		t.Fatalf("provisioned agent: %v %+v", err, ack)
	}

	wide, err := auth.User("gw-b", jwt.Permissions{Pub: jwt.Permission{Allow: []string{"fl.up.*"}}, Sub: jwt.Permission{Allow: []string{uplink.InboxPrefix("gw-b") + ".>"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A client for gw-a over gw-b's connection.
	forged := encode(t, &fieldline.Batch{AgentID: "gw-a", FirstSeq: 11, Readings: readings(11, 10, now)})
	bc, err := uplink.NewNATSClient(natsConn(t, ns, "gw-b", wide), "gw-a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ack, err = bc.Send(context.Background(), forged)
	if !errors.Is(err, uplink.ErrRejected) {
		t.Fatalf("batch as gw-a from user gw-b: %v, want ErrRejected", err)
	}
	if ack.Code != uplink.CodeIdentity || !strings.Contains(ack.Error, `sent by "gw-b"`) || ack.Retry {
		t.Fatalf("ack %+v", ack)
	}
	dl := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.DeadletterTopic).N(1, 30*time.Second)
	if len(dl) != 1 || header(dl[0], "fl-reason") != uplink.CodeIdentity || !strings.Contains(header(dl[0], "fl-error"), `on the subject of agent "gw-a"`) || string(dl[0].Value) != string(forged) {
		t.Fatalf("dead letters %v", dl)
	}
	if got := testutil.ToFloat64(e.m.Rejected.WithLabelValues(uplink.CodeIdentity)); got != 1 {
		t.Errorf("rejected{identity} = %v, want 1", got)
	}
	// Only the provisioned agent's readings reached fl.readings.
	recs := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.ReadingsTopic).Drain(time.Second)
	if len(recs) != 10 {
		t.Errorf("%d readings in Kafka, want the 10 of gw-a", len(recs))
	}
}

func natsConn(t *testing.T, ns *embedded.NATS, name string, creds []byte) *nats.Conn {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.URL(), nats.UserCredentials(path), nats.CustomInboxPrefix(uplink.InboxPrefix(name)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestCheckSender(t *testing.T) {
	const acc = "AAGENTS"
	b := &Bridge{cfg: Config{Identity: IdentityConfig{AgentsAccount: acc}}}
	for _, tc := range []struct{ name, header, want string }{
		{"the agent", `{"acc":"AAGENTS","user":"U1","name_tag":"gw-1"}`, ""},
		{"no header", "", "no Nats-Request-Info header"},
		{"garbage", "{", "does not decode"},
		{"another account", `{"acc":"AOTHER","user":"U1","name_tag":"gw-1"}`, "not the agents' account AAGENTS"},
		{"another user", `{"acc":"AAGENTS","user":"U2","name_tag":"gw-2"}`, `sent by "gw-2" (user U2) on the subject of agent "gw-1"`},
	} {
		agent, code, why := b.checkSender("fl.up.gw-1", tc.header)
		if agent != "gw-1" || (tc.want == "") != (code == "") || !strings.Contains(why, tc.want) {
			t.Errorf("%s: agent %q code %q why %q, want %q", tc.name, agent, code, why, tc.want)
		}
	}
	open := &Bridge{}
	if _, code, _ := open.checkSender("fl.up.gw-1", ""); code != "" {
		t.Errorf("without identity.agents_account: code %q", code)
	}
}

// TestSecureByDefault: a bridge without identity.agents_account starts
// only with insecure: true, and not with both.
func TestSecureByDefault(t *testing.T) {
	_, err := New(Config{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "identity.agents_account: not set") || !strings.Contains(err.Error(), "insecure: true") {
		t.Fatalf("New without identity: %v", err)
	}
	if _, err := New(Config{Insecure: true}, Options{}); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	const acc = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA"
	if _, err := New(Config{Identity: IdentityConfig{AgentsAccount: acc}}, Options{}); err != nil {
		t.Fatalf("with identity: %v", err)
	}
	if _, err := New(Config{Identity: IdentityConfig{AgentsAccount: acc}, Insecure: true}, Options{}); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("both: %v", err)
	}
	if _, err := New(Config{Identity: IdentityConfig{AgentsAccount: "gw-1"}}, Options{}); err == nil || !strings.Contains(err.Error(), "not an account's public nkey") {
		t.Fatalf("bad key: %v", err)
	}
}

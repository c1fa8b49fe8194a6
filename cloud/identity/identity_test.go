package identity

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// setup is an authority, a server in operator mode from its ServerConfig,
// and the rule bucket with values for two agents of two fleets.
type setup struct {
	auth *Authority
	srv  *embedded.NATS
}

func start(t *testing.T) *setup {
	t.Helper()
	a, err := Init(filepath.Join(t.TempDir(), "authority"), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := embedded.StartNATS(embedded.NATSOptions{ConfigFile: a.File(ServerConfigFile), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return &setup{auth: a, srv: srv}
}

// conn is a connection and the asynchronous errors the server sent it.
type conn struct {
	*nats.Conn
	mu   sync.Mutex
	errs []error
}

func (c *conn) sawError(substr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		if strings.Contains(strings.ToLower(e.Error()), substr) {
			return true
		}
	}
	return false
}

func (s *setup) connect(t *testing.T, creds []byte, opts ...nats.Option) (*conn, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &conn{}
	opts = append([]nats.Option{nats.UserCredentials(path), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.errs = append(c.errs, err)
			c.mu.Unlock()
		})}, opts...)
	nc, err := nats.Connect(s.srv.URL(), opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	c.Conn = nc
	return c, nil
}

func (s *setup) user(t *testing.T, file string) *conn {
	t.Helper()
	creds, err := os.ReadFile(s.auth.File(file))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.connect(t, creds)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func (s *setup) agent(t *testing.T, id, fleet string) *conn {
	t.Helper()
	c, _ := s.agentCreds(t, id, fleet)
	return c
}

func (s *setup) agentCreds(t *testing.T, id, fleet string) (*conn, []byte) {
	t.Helper()
	p, err := s.auth.Provision(id, fleet, "fl_rules")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.connect(t, p.Creds, nats.CustomInboxPrefix(uplink.InboxPrefix(id)))
	if err != nil {
		t.Fatalf("agent %s: %v", id, err)
	}
	return c, p.Creds
}

// bridge answers every batch with the name the server stamped on it.
func (s *setup) bridge(t *testing.T) {
	t.Helper()
	nc := s.user(t, BridgeCreds)
	_, err := nc.QueueSubscribe(uplink.SubjectPrefix+"*", uplink.QueueGroup, func(m *nats.Msg) {
		who, err := uplink.ParseSender(m.Header.Get(uplink.IdentityHeader))
		if err != nil {
			_ = m.Respond([]byte("error: " + err.Error()))
			return
		}
		_ = m.Respond([]byte(who.Account + " " + who.Name + " " + m.Subject))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func rulesBucket(t *testing.T, s *setup) nats.KeyValue {
	t.Helper()
	js, err := s.user(t, FleetCreds).JetStream()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "fl_rules", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"agent.gw-a", "agent.gw-b", "fleet.north", "canary.north", "fleet.south"} {
		if _, err := kv.PutString(k, "bundle of "+k); err != nil {
			t.Fatal(err)
		}
	}
	return kv
}

func TestAgentSpeaksOnlyForItself(t *testing.T) {
	s := start(t)
	s.bridge(t)
	a := s.agent(t, "gw-a", "north")
	s.agent(t, "gw-b", "south")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := a.RequestWithContext(ctx, uplink.Subject("gw-a"), []byte("batch"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(msg.Data), s.auth.AgentsAccountKey()+" gw-a fl.up.gw-a"; got != want {
		t.Fatalf("bridge saw %q, want %q", got, want)
	}
	if err := a.Publish(uplink.StatusSubject("gw-a"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// A bridge's hello reaches the agents (the stream CLOUD exports).
	hello, err := a.SubscribeSync(uplink.HelloSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	br := s.user(t, BridgeCreds)
	if err := br.Publish(uplink.HelloSubject, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := hello.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the bridge's hello did not reach the agent: %v", err)
	}

	// Another agent's subjects.
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	defer cancelShort()
	if _, err := a.RequestWithContext(short, uplink.Subject("gw-b"), []byte("batch")); err == nil {
		t.Fatal("gw-a sent a batch as gw-b")
	}
	if err := a.Publish(uplink.StatusSubject("gw-b"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_ = a.Flush()
	testkit.WaitFor(t, 10*time.Second, "permission violations", func() bool {
		return a.sawError(`permissions violation for publish to "fl.up.gw-b"`) && a.sawError(`permissions violation for publish to "fl.status.gw-b"`)
	})
	// Anyone else's replies.
	if _, err := a.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	_ = a.Flush()
	testkit.WaitFor(t, 10*time.Second, "subscribe violation", func() bool {
		return a.sawError(`permissions violation for subscription to "_inbox.>"`)
	})
}

func TestAgentReadsOnlyItsRules(t *testing.T) {
	s := start(t)
	rulesBucket(t, s)
	a := s.agent(t, "gw-a", "north")
	js, err := a.JetStream(nats.MaxWait(500 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue("fl_rules")
	if err != nil {
		t.Fatalf("binding the bucket: %v", err)
	}
	// Its own keys: one watch per key, as agent rulesync does.
	for _, key := range RuleKeys("gw-a", "north") {
		w, err := kv.Watch(key)
		if err != nil {
			t.Fatalf("watching %s: %v", key, err)
		}
		e := <-w.Updates()
		if e == nil || string(e.Value()) != "bundle of "+key {
			t.Fatalf("watch of %s gave %v", key, e)
		}
		_ = w.Stop()
	}
	// Not another agent's, another fleet's, nor all keys at once.
	for _, keys := range [][]string{{"agent.gw-b"}, {"fleet.south"}, {">"}, {"agent.gw-a", "agent.gw-b"}} {
		if w, err := kv.WatchFiltered(keys); err == nil {
			_ = w.Stop()
			t.Errorf("gw-a watches %v", keys)
		}
	}
	if e, err := kv.Get("agent.gw-b"); err == nil {
		t.Errorf("gw-a read agent.gw-b: %q", e.Value())
	}
	// No writes, not even to its own key.
	if _, err := kv.PutString("agent.gw-a", "forged"); err == nil {
		t.Error("gw-a wrote its own rule key")
	}
	if err := kv.Delete("fleet.north"); err == nil {
		t.Error("gw-a deleted its fleet's rule key")
	}
	if err := js.DeleteKeyValue("fl_rules"); err == nil {
		t.Error("gw-a deleted the bucket")
	}
	_ = a.Flush()
	testkit.WaitFor(t, 10*time.Second, "permission violations", func() bool {
		return a.sawError(`permissions violation for publish to "$kv.fl_rules.agent.gw-a"`) &&
			a.sawError(`permissions violation for publish to "$js.api.consumer.create.kv_fl_rules`)
	})
}

// TestServerStampsIdentity: an agent sends a batch with a forged identity
// header naming another agent; the bridge sees the one the server wrote.
func TestServerStampsIdentity(t *testing.T) {
	s := start(t)
	s.bridge(t)
	p, err := s.auth.Provision("gw-b", "", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.connect(t, p.Creds, nats.CustomInboxPrefix(uplink.InboxPrefix("gw-b")))
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(uplink.Subject("gw-b"))
	m.Header.Set(uplink.IdentityHeader, `{"acc":"`+s.auth.AgentsAccountKey()+`","name_tag":"gw-a"}`)
	m.Data = []byte("batch")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := b.RequestMsgWithContext(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(reply.Data); got != s.auth.AgentsAccountKey()+" gw-b fl.up.gw-b" {
		t.Fatalf("bridge saw %q: the forged header survived", got)
	}
}

func TestRevokeCutsOff(t *testing.T) {
	s := start(t)
	s.bridge(t)
	a, old := s.agentCreds(t, "gw-a", "")
	closed := make(chan struct{})
	a.SetClosedHandler(func(*nats.Conn) { close(closed) })
	sys := s.user(t, SysCreds)

	token, err := s.auth.Revoke("gw-a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pushed := time.Now()
	if err := Push(ctx, sys.Conn, token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
		t.Logf("revoked agent disconnected %s after the push began", time.Since(pushed))
	case <-ctx.Done():
		t.Fatal("the revoked agent is still connected")
	}
	if !a.sawError("revoked") {
		t.Errorf("the agent was told %v, want revoked", a.errs)
	}
	// It cannot come back with the same credentials…
	p, err := s.auth.Agent("gw-a")
	if err != nil || p.Revoked.IsZero() {
		t.Fatalf("agent record %+v, %v", p, err)
	}
	if _, err := s.connect(t, old); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("the revoked credentials connect again: %v", err)
	}
	// …and provisioning it again gives it new ones that work.
	b := s.agent(t, "gw-a", "")
	if _, err := b.RequestWithContext(ctx, uplink.Subject("gw-a"), []byte("batch")); err != nil {
		t.Fatalf("re-provisioned agent: %v", err)
	}
	// Others are untouched.
	if _, err := s.auth.Agent("gw-zz"); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("unknown agent: %v", err)
	}
}

package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/rawconn"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// runServer starts a real NATS server with opts on a random port.
func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// answer replies OK to every batch on fl.up.* with the agent's id, as a
// bridge does.
func answer(t *testing.T, s *server.Server, opts ...nats.Option) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	_, err = nc.QueueSubscribe(SubjectPrefix+"*", QueueGroup, func(m *nats.Msg) {
		_ = m.Respond(wire.EncodeAck(&fieldline.Ack{AgentID: AgentFromSubject(m.Subject), OK: true}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func sendOnce(t *testing.T, cfg NATSConfig, agent string, extra ...nats.Option) error {
	t.Helper()
	cfg.RequestTimeout = time.Second
	nc, err := DialNATS(cfg, "test", nil, extra...)
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := NewNATSClient(nc, agent, cfg.RequestTimeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The first connection may still be coming up: retry until ctx ends.
	for {
		ack, err := c.Send(ctx, []byte("batch"))
		if err == nil {
			if !ack.OK || ack.AgentID != agent {
				return errors.New("bad ack")
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCredentials(t *testing.T) {
	// An nkey user for the agent.
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "agent.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	// Each agent may publish only on its own subjects; the bridge user
	// may answer anyone.
	agentPerms := func(id string) *server.Permissions {
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{Subject(id), StatusSubject(id)}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}
	}
	s := runServer(t, &server.Options{
		Users: []*server.User{
			{Username: "gw-1", Password: "s3cret", Permissions: agentPerms("gw-1")},
			{Username: "bridge", Password: "b"},
		},
		Nkeys: []*server.NkeyUser{{Nkey: pub, Permissions: agentPerms("gw-2")}},
	})
	answer(t, s, nats.UserInfo("bridge", "b"))
	url := s.ClientURL()
	cases := []struct {
		name    string
		cfg     NATSConfig
		agent   string
		wantErr string
	}{
		{"user and password", NATSConfig{URL: url, User: "gw-1", Password: "s3cret"}, "gw-1", ""},
		{"nkey seed file", NATSConfig{URL: url, NKeySeed: seedFile}, "gw-2", ""},
		{"wrong password", NATSConfig{URL: url, User: "gw-1", Password: "nope"}, "gw-1", "authorization"},
		{"no credentials", NATSConfig{URL: url}, "gw-1", "authorization"},
		// The server refuses a publish on another agent's subject: an
		// agent's credentials cannot forge another agent's batches.
		{"another agent's subject", NATSConfig{URL: url, User: "gw-1", Password: "s3cret"}, "gw-2", "permissions violation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := sendOnce(t, tc.cfg, tc.agent)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	serverCert, caFile := testkit.SelfSignedCA(t)
	s := runServer(t, &server.Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}, TLS: true})
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	answer(t, s, nats.Secure(&tls.Config{RootCAs: pool}))
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: caFile}}, "gw-tls"); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	// As the agent dials: TLS over a socket read with raw system calls.
	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: caFile}}, "gw-tls", nats.SetCustomDialer(&rawconn.Dialer{})); err != nil {
		t.Fatalf("with the CA, through rawconn: %v", err)
	}
	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{ServerName: "elsewhere.example"}}, "gw-tls"); err == nil {
		t.Fatal("a server certificate from an unknown CA was accepted")
	}
}

func TestAgentID(t *testing.T) {
	for id, ok := range map[string]bool{"gw-1": true, "GW_2": true, "": false, "a.b": false, "a*": false, "a>": false, "a b": false, strings.Repeat("x", 65): false, "é": false} {
		err := CheckAgentID(id)
		if (err == nil) != ok {
			t.Errorf("%q: %v", id, err)
		}
		if err != nil && !errors.Is(err, ErrAgentID) {
			t.Errorf("%q: error does not wrap ErrAgentID", id)
		}
		if got := AgentFromSubject(Subject(id)); (ok && got != id) || (!ok && got != "") {
			t.Errorf("AgentFromSubject(%q) = %q", Subject(id), got)
		}
	}
	if AgentFromSubject("fl.status.gw-1") != "" || AgentFromSubject("fl.up.gw-1.x") != "" {
		t.Error("AgentFromSubject accepted a subject of another form")
	}
}

func TestConfigCheck(t *testing.T) {
	var p confkit.Problems
	c := NATSConfig{URL: "127.0.0.1:4222", User: "u", Token: "t", Creds: "/nonexistent.creds", TLS: tlsconf.Config{CertFile: "/x.pem"}}
	c.Check(&p)
	got := p.Err("agent.yaml").Error()
	for _, want := range []string{`url: "127.0.0.1:4222" has no scheme`, "at most one of", "creds: cannot read /nonexistent.creds", "tls: cert_file and key_file go together"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

// TestDecodeAck: what each reply means to the agent.
func TestDecodeAck(t *testing.T) {
	ok := fieldline.Ack{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 1, LastSeq: 9, OK: true}
	for _, tc := range []struct {
		name    string
		data    []byte
		want    error  // nil: no error
		wantMsg string // in the error
		ack     bool   // an Ack comes back
	}{
		{"ok", wire.EncodeAck(&ok), nil, "", true},
		{"garbage", []byte{0xff, 0xff}, ErrBadAck, "malformed ack", false},
		{"lane out of range", []byte{0x10, 0x09}, ErrBadAck, "lane 9", false},
		{"retry", wire.EncodeAck(&fieldline.Ack{Code: CodeKafka, Retry: true, Error: "kafka down"}), ErrNotAcked, "kafka: kafka down", true},
		{"rejected", wire.EncodeAck(&fieldline.Ack{Code: CodeDecode, Error: "bad magic"}), ErrRejected, "decode: bad magic", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeAck(tc.data)
			if tc.want == nil {
				if err != nil || a == nil || *a != ok {
					t.Fatalf("got %+v, %v; want %+v", a, err, ok)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.wantMsg)
			}
			if (a != nil) != tc.ack {
				t.Fatalf("ack %+v returned with %v", a, err)
			}
		})
	}
}

// TestMutualTLS: a NATS server that asks every client for a certificate of
// its CA: the agent's uplink.nats.tls with cert_file and key_file gets
// through; without a certificate, or with one of another CA, it does not;
// an expired certificate is named at load; an expired server certificate
// is named in the error.
func TestMutualTLS(t *testing.T) {
	h := time.Now()
	ca := testkit.IssueCert(t, "fieldline-ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	other := testkit.IssueCert(t, "other-ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	srvCert := testkit.IssueCert(t, "nats", h.Add(-time.Hour), h.Add(time.Hour), ca)
	agent := testkit.IssueCert(t, "gw-mtls", h.Add(-time.Hour), h.Add(time.Hour), ca)
	stranger := testkit.IssueCert(t, "gw-stranger", h.Add(-time.Hour), h.Add(time.Hour), other)
	expired := testkit.IssueCert(t, "gw-old", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.X509)
	s := runServer(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLS(t)}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, RootCAs: pool, MinVersion: tls.VersionTLS12,
	}})
	answer(t, s, nats.Secure(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{agent.TLS(t)}}))
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)

	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: ca.CertFile, CertFile: agent.CertFile, KeyFile: agent.KeyFile}}, "gw-mtls"); err != nil {
		t.Fatalf("with a certificate of the CA: %v", err)
	}
	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: ca.CertFile}}, "gw-mtls"); err == nil {
		t.Fatal("connected without a client certificate")
	}
	if err := sendOnce(t, NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: ca.CertFile, CertFile: stranger.CertFile, KeyFile: stranger.KeyFile}}, "gw-mtls"); err == nil {
		t.Fatal("connected with a certificate of another CA")
	}
	_, err := DialNATS(NATSConfig{URL: url, TLS: tlsconf.Config{CAFile: ca.CertFile, CertFile: expired.CertFile, KeyFile: expired.KeyFile}}, "test", nil)
	if err == nil || !strings.Contains(err.Error(), `certificate "gw-old" expired on`) {
		t.Fatalf("an expired client certificate: %v", err)
	}

	oldSrv := testkit.IssueCert(t, "nats-old", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca)
	s2 := runServer(t, &server.Options{TLS: true, TLSConfig: &tls.Config{Certificates: []tls.Certificate{oldSrv.TLS(t)}, MinVersion: tls.VersionTLS12}})
	url2 := strings.Replace(s2.ClientURL(), "nats://", "tls://", 1)
	err = sendOnce(t, NATSConfig{URL: url2, TLS: tlsconf.Config{CAFile: ca.CertFile}}, "gw-mtls")
	if err == nil || !strings.Contains(err.Error(), "certificate has expired or is not yet valid") {
		t.Fatalf("an expired server certificate: %v", err)
	}
}

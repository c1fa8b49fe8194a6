package mqtt

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

func TestTLS(t *testing.T) {
	cert, ca := testkit.SelfSignedCA(t)
	b, err := mqttsim.StartBroker(mqttsim.BrokerOptions{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	if !strings.HasPrefix(b.URL(), "tls://") {
		t.Fatalf("url %s", b.URL())
	}

	// Trusting the broker's CA: readings flow.
	cfg := Config{Name: "tls", Brokers: []string{b.URL()}, Reconnect: fastReconnect, TLS: tlsconf.Config{CAFile: ca},
		Subscriptions: []Subscription{{Topic: "t/+", Sensor: "t.<+>"}}}
	src, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	pcfg := cfg
	pcfg.ClientID = "tls-pub"
	pub, err := NewPublisher(pcfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePublisher(t, pub) })
	publish(t, pub, "t/a", "4.5")
	eventually(t, "a reading over TLS", func() bool { return len(s.of("t.a")) == 1 })

	// Without the CA the certificate is refused: connect errors, never
	// connected.
	m := NewMetrics(nil)
	var l logs
	untrusting := cfg
	untrusting.Name, untrusting.ClientID, untrusting.TLS = "untrusting", "untrusting", tlsconf.Config{}
	src2, err := New(untrusting, Options{Metrics: m, Logger: l.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, src2, &s) }()
	eventually(t, "connect errors", func() bool {
		return m.ConnectErrors.WithLabelValues("mqtt/untrusting").Value() >= 2
	})
	if src2.Connected() {
		t.Error("connected to a broker whose certificate it cannot verify")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := l.lines("source cannot connect"); len(got) != 1 || !strings.Contains(got[0], "certificate") {
		t.Errorf("connect failures logged %d times (want once a minute): %q", len(got), got)
	}

	// A CA file that is not PEM is a config error at New.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o644)
	cfg.TLS.CAFile = bad
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("bad CA file: %v", err)
	}
}

func TestMosquittoPassword(t *testing.T) {
	broker := startMosquittoWith(t, map[string]string{"gateway": "s3cret-pw"})
	m := NewMetrics(nil)
	var l logs
	wrong := Config{Name: "wrong", Brokers: []string{broker.url()}, Reconnect: fastReconnect,
		Username: "gateway", Password: "not-the-pw", Subscriptions: []Subscription{{Topic: "a"}}}
	src, err := New(wrong, Options{Metrics: m, Logger: l.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	var s sink
	go func() { done <- run(ctx, src, &s) }()
	eventually(t, "refused connections", func() bool {
		return m.ConnectErrors.WithLabelValues("mqtt/wrong").Value() >= 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(l.lines(""), "\n"), "not-the-pw") {
		t.Fatal("the password was logged")
	}

	// The right password, from a file.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	right := Config{Name: "right", Brokers: []string{broker.url()}, Reconnect: fastReconnect,
		Username: "gateway", PasswordFile: pwFile, Subscriptions: []Subscription{{Topic: "p/+", Sensor: "p.<+>"}}}
	src2, err := New(right, Options{})
	if err != nil {
		t.Fatal(err)
	}
	running(t, src2, &s)
	pcfg := right
	pcfg.ClientID = "right-pub"
	pub, err := NewPublisher(pcfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePublisher(t, pub) })
	publish(t, pub, "p/x", "1")
	eventually(t, "a reading with the right password", func() bool { return len(s.of("p.x")) == 1 })
}

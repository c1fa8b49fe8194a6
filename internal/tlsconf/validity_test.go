package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

func TestValidityAtLoad(t *testing.T) {
	h := time.Now()
	ca := testkit.IssueCert(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	oldCA := testkit.IssueCert(t, "old-ca", h.Add(-48*time.Hour), h.Add(-24*time.Hour), nil)
	expired := testkit.IssueCert(t, "expired", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca)
	future := testkit.IssueCert(t, "future", h.Add(24*time.Hour), h.Add(48*time.Hour), ca)
	good := testkit.IssueCert(t, "good", h.Add(-time.Hour), h.Add(time.Hour), ca)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"good", Config{CAFile: ca.CertFile, CertFile: good.CertFile, KeyFile: good.KeyFile}, ""},
		{"expired", Config{CertFile: expired.CertFile, KeyFile: expired.KeyFile}, `tls.cert_file: ` + expired.CertFile + `: certificate "expired" expired on ` + expired.X509.NotAfter.UTC().Format("2006-01-02 15:04:05 MST")},
		{"not yet valid", Config{CertFile: future.CertFile, KeyFile: future.KeyFile}, `tls.cert_file: ` + future.CertFile + `: certificate "future" is not valid before ` + future.X509.NotBefore.UTC().Format("2006-01-02 15:04:05 MST") + ` (is this machine's clock right?`},
		{"expired CA", Config{CAFile: oldCA.CertFile}, `tls.ca_file: ` + oldCA.CertFile + `: no certificate in it is valid now: certificate "old-ca" expired on`},
		{"key of another certificate", Config{CertFile: good.CertFile, KeyFile: expired.KeyFile}, "private key does not match public key"},
	} {
		_, err := tc.c.Client(nil)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", tc.name, err, tc.want)
		}
	}
}

// TestHandshakeErrors: what a client is told about a server's certificate
// that expired, is not valid yet, names another host or comes from
// another CA.
func TestHandshakeErrors(t *testing.T) {
	h := time.Now()
	ca := testkit.IssueCert(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	otherCA := testkit.IssueCert(t, "other-ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	for _, tc := range []struct {
		name   string
		server *testkit.Cert
		client Config
		want   string
	}{
		{"good", testkit.IssueCert(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca), Config{CAFile: ca.CertFile}, ""},
		{"expired", testkit.IssueCert(t, "server", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca), Config{CAFile: ca.CertFile}, "certificate has expired or is not yet valid: current time"},
		{"not yet valid", testkit.IssueCert(t, "server", h.Add(24*time.Hour), h.Add(48*time.Hour), ca), Config{CAFile: ca.CertFile}, "certificate has expired or is not yet valid"},
		{"another host", testkit.IssueCert(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca), Config{CAFile: ca.CertFile, ServerName: "nats.example.com"}, "certificate is valid for localhost, not nats.example.com"},
		{"another CA", testkit.IssueCert(t, "server", h.Add(-time.Hour), h.Add(time.Hour), otherCA), Config{CAFile: ca.CertFile}, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := serve(t, tc.server.TLS(t))
			cfg, err := tc.client.Client(nil)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := tls.Dial("tcp", addr, cfg)
			if err == nil {
				err = conn.Handshake()
				conn.Close()
			}
			<-got
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want …%s…", err, tc.want)
			}
		})
	}
}

// TestServer: Server needs a certificate; with ca_file it asks clients for
// one signed by that CA.
func TestServer(t *testing.T) {
	h := time.Now()
	ca := testkit.IssueCert(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	srv := testkit.IssueCert(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca)
	client := testkit.IssueCert(t, "client", h.Add(-time.Hour), h.Add(time.Hour), ca)
	if _, err := (&Config{CAFile: ca.CertFile}).Server(); err == nil || !strings.Contains(err.Error(), "a server needs cert_file and key_file") {
		t.Fatalf("server without certificate: %v", err)
	}
	sc, err := (&Config{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile}).Server()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			err = c.(*tls.Conn).Handshake()
			c.Close()
			done <- err
		}
	}()
	dial := func(c Config) error {
		cfg, err := c.Client(nil)
		if err != nil {
			return err
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Read(make([]byte, 1)) // the server's verdict on our certificate
		return err
	}
	_ = dial(Config{CAFile: ca.CertFile})
	if err := <-done; err == nil || !strings.Contains(err.Error(), "client didn't provide a certificate") {
		t.Errorf("server accepted a client without a certificate: %v", err)
	}
	_ = dial(Config{CAFile: ca.CertFile, CertFile: client.CertFile, KeyFile: client.KeyFile})
	if err := <-done; err != nil {
		t.Errorf("client with a certificate of the CA: %v", err)
	}
}

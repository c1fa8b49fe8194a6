package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// issued is a certificate and its key, written as PEM files.
type issued struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	keyFile  string
}

// issue makes a certificate for localhost and 127.0.0.1 valid from
// notBefore to notAfter, signed by ca (self-signed and a CA when ca is nil).
func issue(t *testing.T, cn string, notBefore, notAfter time.Time, ca *issued) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	kder, _ := x509.MarshalECPrivateKey(key)
	out := &issued{cert: cert, key: key, certFile: filepath.Join(dir, cn+".pem"), keyFile: filepath.Join(dir, cn+".key")}
	if err := os.WriteFile(out.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func (i *issued) tls(t *testing.T) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(i.certFile, i.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidityAtLoad(t *testing.T) {
	h := time.Now()
	ca := issue(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	oldCA := issue(t, "old-ca", h.Add(-48*time.Hour), h.Add(-24*time.Hour), nil)
	expired := issue(t, "expired", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca)
	future := issue(t, "future", h.Add(24*time.Hour), h.Add(48*time.Hour), ca)
	good := issue(t, "good", h.Add(-time.Hour), h.Add(time.Hour), ca)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"good", Config{CAFile: ca.certFile, CertFile: good.certFile, KeyFile: good.keyFile}, ""},
		{"expired", Config{CertFile: expired.certFile, KeyFile: expired.keyFile}, `tls.cert_file: ` + expired.certFile + `: certificate "expired" expired on ` + expired.cert.NotAfter.UTC().Format("2006-01-02 15:04:05 MST")},
		{"not yet valid", Config{CertFile: future.certFile, KeyFile: future.keyFile}, `tls.cert_file: ` + future.certFile + `: certificate "future" is not valid before ` + future.cert.NotBefore.UTC().Format("2006-01-02 15:04:05 MST") + ` (is this machine's clock right?`},
		{"expired CA", Config{CAFile: oldCA.certFile}, `tls.ca_file: ` + oldCA.certFile + `: no certificate in it is valid now: certificate "old-ca" expired on`},
		{"key of another certificate", Config{CertFile: good.certFile, KeyFile: expired.keyFile}, "private key does not match public key"},
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
	ca := issue(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	otherCA := issue(t, "other-ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	for _, tc := range []struct {
		name   string
		server *issued
		client Config
		want   string
	}{
		{"good", issue(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca), Config{CAFile: ca.certFile}, ""},
		{"expired", issue(t, "server", h.Add(-48*time.Hour), h.Add(-24*time.Hour), ca), Config{CAFile: ca.certFile}, "certificate has expired or is not yet valid: current time"},
		{"not yet valid", issue(t, "server", h.Add(24*time.Hour), h.Add(48*time.Hour), ca), Config{CAFile: ca.certFile}, "certificate has expired or is not yet valid"},
		{"another host", issue(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca), Config{CAFile: ca.certFile, ServerName: "nats.example.com"}, "certificate is valid for localhost, not nats.example.com"},
		{"another CA", issue(t, "server", h.Add(-time.Hour), h.Add(time.Hour), otherCA), Config{CAFile: ca.certFile}, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := serve(t, tc.server.tls(t))
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
	ca := issue(t, "ca", h.Add(-time.Hour), h.Add(time.Hour), nil)
	srv := issue(t, "server", h.Add(-time.Hour), h.Add(time.Hour), ca)
	client := issue(t, "client", h.Add(-time.Hour), h.Add(time.Hour), ca)
	if _, err := (&Config{CAFile: ca.certFile}).Server(); err == nil || !strings.Contains(err.Error(), "a server needs cert_file and key_file") {
		t.Fatalf("server without certificate: %v", err)
	}
	sc, err := (&Config{CAFile: ca.certFile, CertFile: srv.certFile, KeyFile: srv.keyFile}).Server()
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
	_ = dial(Config{CAFile: ca.certFile})
	if err := <-done; err == nil || !strings.Contains(err.Error(), "client didn't provide a certificate") {
		t.Errorf("server accepted a client without a certificate: %v", err)
	}
	_ = dial(Config{CAFile: ca.certFile, CertFile: client.certFile, KeyFile: client.keyFile})
	if err := <-done; err != nil {
		t.Errorf("client with a certificate of the CA: %v", err)
	}
}

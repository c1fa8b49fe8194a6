package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// section is a config file with one tls section, as the agent's and the
// bridge's have several.
type section struct {
	TLS Config `yaml:"tls"`
}

func (s *section) Check(p *confkit.Problems) { s.TLS.Check(p.In("tls")) }

// files writes a CA (also usable as a client certificate), its key, a
// second unrelated key and a file that is not PEM; it returns their paths
// by name and the certificate.
func files(t *testing.T) (map[string]string, tls.Certificate) {
	t.Helper()
	cert, ca := testkit.SelfSignedCA(t)
	otherCert, _ := testkit.SelfSignedCA(t)
	dir := t.TempDir()
	writeKey := func(name string, c tls.Certificate) string {
		der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"CA": ca, "KEY": writeKey("key.pem", cert), "OTHERKEY": writeKey("other.pem", otherCert),
		"NOTPEM": notPEM, "MISSING": filepath.Join(dir, "missing.pem"),
	}, cert
}

// TestCheck decodes tls sections as a config file holds them and lists
// their problems, each named by its path.
func TestCheck(t *testing.T) {
	f, _ := files(t)
	for _, tc := range []struct {
		name, yaml string
		want       []string // problems, with file paths as $NAME
	}{
		{"none", `tls: {}`, nil},
		{"all", "tls: {ca_file: $CA, cert_file: $CA, key_file: $KEY, server_name: nats.example.com}", nil},
		{"insecure", "tls: {insecure_skip_verify: true}", nil},
		{"old spelling", "tls: {ca: $CA, cert: $CA, key: $KEY}", []string{
			"tls.ca: renamed: write ca_file (every tls section has the keys ca_file, cert_file, key_file, server_name, insecure_skip_verify)",
			"tls.cert: renamed: write cert_file (every tls section has the keys ca_file, cert_file, key_file, server_name, insecure_skip_verify)",
			"tls.key: renamed: write key_file (every tls section has the keys ca_file, cert_file, key_file, server_name, insecure_skip_verify)",
		}},
		{"old spelling, empty", "tls: {ca: \"\"}", []string{
			"tls.ca: renamed: write ca_file (every tls section has the keys ca_file, cert_file, key_file, server_name, insecure_skip_verify)",
		}},
		{"missing CA", "tls: {ca_file: $MISSING}", []string{"tls.ca_file: cannot read $MISSING: no such file or directory"}},
		{"CA not PEM", "tls: {ca_file: $NOTPEM}", []string{"tls.ca_file: $NOTPEM holds no PEM certificate"}},
		{"cert without key", "tls: {cert_file: $CA}", []string{"tls: cert_file and key_file go together"}},
		{"key without cert", "tls: {key_file: $KEY}", []string{"tls: cert_file and key_file go together"}},
		{"missing cert and key", "tls: {cert_file: $MISSING, key_file: $MISSING}", []string{
			"tls.cert_file: cannot read $MISSING: no such file or directory",
			"tls.key_file: cannot read $MISSING: no such file or directory",
		}},
		{"key of another certificate", "tls: {cert_file: $CA, key_file: $OTHERKEY}", []string{
			"tls.cert_file: $CA with key_file $OTHERKEY: tls: private key does not match public key",
		}},
		{"unknown key", "tls: {ca_fil: $CA}", []string{"tls.ca_fil: unknown key (did you mean ca_file?)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expand := func(s string) string { return os.Expand(s, func(k string) string { return f[k] }) }
			err := confkit.Decode("agent.yaml", []byte(expand(tc.yaml)), &section{})
			var got []string
			var ce *confkit.Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					got = append(got, strings.TrimPrefix(p.String(), "line 1: ")) // every case is one line
				}
			} else if err != nil {
				t.Fatalf("Decode: %v (%T)", err, err)
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = expand(w)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestClientErrors: Client fails on what Check reports, naming the key,
// with ErrConfig.
func TestClientErrors(t *testing.T) {
	f, _ := files(t)
	c := Config{CAFile: f["NOTPEM"], CertFile: f["CA"]}
	_, err := c.Client(nil)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	want := "invalid TLS config: tls.ca_file: " + f["NOTPEM"] + " holds no PEM certificate; tls: cert_file and key_file go together"
	if err.Error() != want {
		t.Errorf("err\n got: %s\nwant: %s", err, want)
	}
}

// TestEnabled: any key set enables TLS; the zero value and the old keys
// alone (which Check rejects) do not.
func TestEnabled(t *testing.T) {
	old := "x"
	for _, tc := range []struct {
		c    Config
		want bool
	}{
		{Config{}, false},
		{Config{Renamed: RenamedKeys{CA: &old}}, false},
		{Config{CAFile: "x"}, true},
		{Config{ServerName: "x"}, true},
		{Config{InsecureSkipVerify: true}, true},
	} {
		if got := tc.c.Enabled(); got != tc.want {
			t.Errorf("%+v.Enabled() = %t, want %t", tc.c, got, tc.want)
		}
	}
}

// serve runs a TLS server on loopback that asks for a client certificate
// and reports, for each connection, the client certificate it got (nil
// for none) or the handshake error.
func serve(t *testing.T, cert tls.Certificate) (addr string, got chan any) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	got = make(chan any, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				got <- err
			} else if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
				got <- pc[0]
			} else {
				got <- nil
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String(), got
}

// TestClientHandshake dials a real TLS server with the built config: the
// CA file is trusted, the client certificate is presented, a server name
// that the certificate does not hold is refused, and insecure_skip_verify
// connects anyway with a warning in the log.
func TestClientHandshake(t *testing.T) {
	f, cert := files(t)
	addr, got := serve(t, cert)
	dial := func(c Config, log *slog.Logger) error {
		tc, err := c.Client(log)
		if err != nil {
			return err
		}
		conn, err := tls.Dial("tcp", addr, tc)
		if err != nil {
			<-got // the server's side of the failed handshake
			return err
		}
		defer conn.Close()
		return conn.Handshake()
	}

	if err := dial(Config{CAFile: f["CA"], CertFile: f["CA"], KeyFile: f["KEY"], ServerName: "localhost"}, nil); err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	if c, ok := (<-got).(*x509.Certificate); !ok || !bytes.Equal(c.Raw, cert.Certificate[0]) {
		t.Errorf("server saw client certificate %v, want the configured one", c)
	}
	if err := dial(Config{CAFile: f["CA"]}, nil); err != nil {
		t.Errorf("with the CA, by IP (the certificate holds 127.0.0.1): %v", err)
	}
	if c := <-got; c != nil {
		t.Errorf("server saw %v, want no client certificate", c)
	}
	if err := dial(Config{CAFile: f["CA"], ServerName: "elsewhere.example"}, nil); err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Errorf("a certificate without the server name was accepted, or refused for another reason: %v", err)
	}
	if err := dial(Config{ServerName: "localhost"}, nil); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a certificate from a CA not trusted was accepted, or refused for another reason: %v", err)
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := dial(Config{InsecureSkipVerify: true}, log); err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
	<-got
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "WITHOUT CERTIFICATE VERIFICATION") {
		t.Errorf("insecure_skip_verify logged %q, want a warning", logs.String())
	}
}

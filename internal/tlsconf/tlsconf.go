package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/fieldline/fieldline/internal/confkit"
)

// Config is the TLS of one client connection. Any field set enables TLS;
// the zero value means none (or, on a tls:// URL, the system's CAs).
type Config struct {
	// CAFile is a PEM bundle of the CAs to trust; default the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and its key (PEM),
	// for servers that authenticate clients by certificate. They go
	// together.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify trusts any server certificate: for tests only.
	// Client logs a warning every time it builds such a config.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	// Renamed holds keys of an earlier spelling only to reject them by
	// name; see RenamedKeys.
	Renamed RenamedKeys `yaml:",inline"`
}

// RenamedKeys are the keys the NATS uplink once used for its TLS files.
// They decode (so that the problem names the new key instead of "field not
// found") and Check rejects every one that is present.
type RenamedKeys struct {
	CA   *string `yaml:"ca"`   // now ca_file
	Cert *string `yaml:"cert"` // now cert_file
	Key  *string `yaml:"key"`  // now key_file
}

// Enabled reports whether any TLS setting is given.
func (c Config) Enabled() bool {
	c.Renamed = RenamedKeys{}
	return c != Config{}
}

// Check lists the config's problems under p (give it the path of the tls
// section): keys of the old spelling, a certificate without its key, files
// that cannot be read or do not hold what their key says.
func (c *Config) Check(p *confkit.Problems) {
	for _, r := range []struct {
		old, now string
		set      bool
	}{
		{"ca", "ca_file", c.Renamed.CA != nil},
		{"cert", "cert_file", c.Renamed.Cert != nil},
		{"key", "key_file", c.Renamed.Key != nil},
	} {
		if r.set {
			p.Add(r.old, "renamed: write %s (every tls section has the keys ca_file, cert_file, key_file, server_name, insecure_skip_verify)", r.now)
		}
	}
	c.load(p)
}

// Client builds the client's *tls.Config from the files. Its error wraps
// ErrConfig and names each problem's key ("tls.ca_file: ..."). With
// InsecureSkipVerify it logs a warning on log (nil: none) each time.
func (c *Config) Client(log *slog.Logger) (*tls.Config, error) {
	var p confkit.Problems
	tc := c.load(p.In("tls"))
	if p.Len() > 0 {
		msgs := make([]string, 0, p.Len())
		for _, q := range p.List() {
			msgs = append(msgs, q.String())
		}
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(msgs, "; "))
	}
	if c.InsecureSkipVerify && log != nil {
		log.Warn("TLS WITHOUT CERTIFICATE VERIFICATION (tls.insecure_skip_verify): the connection is encrypted, but any server on the path can pose as this one and read or change the data; set ca_file instead, and keep insecure_skip_verify for tests",
			"server_name", c.ServerName)
	}
	return tc, nil
}

// load is the one loader behind Check and Client: it builds the config and
// records every problem under p.
func (c *Config) load(p *confkit.Problems) *tls.Config {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // documented as for tests only, and logged by Client
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		switch {
		case err != nil:
			p.Add("ca_file", "cannot read %s: %v", c.CAFile, pathErr(err))
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				p.Add("ca_file", "%s holds no PEM certificate", c.CAFile)
			} else if msg := caValidity(pem, now()); msg != "" {
				p.Add("ca_file", "%s: %s", c.CAFile, msg)
			}
			tc.RootCAs = pool
		}
	}
	switch {
	case c.CertFile == "" && c.KeyFile == "":
	case c.CertFile == "" || c.KeyFile == "":
		p.Add("", "cert_file and key_file go together")
	default:
		ok := true
		for _, f := range []struct{ key, file string }{{"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
			if _, err := os.Stat(f.file); err != nil {
				p.Add(f.key, "cannot read %s: %v", f.file, pathErr(err))
				ok = false
			}
		}
		if !ok {
			break
		}
		if err := confkit.CheckPrivate(c.KeyFile); err != nil {
			p.Add("key_file", "%v", err)
			break
		}
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			p.Add("cert_file", "%s with key_file %s: %v", c.CertFile, c.KeyFile, err)
			break
		}
		if msg := validity(cert.Leaf, now()); msg != "" {
			p.Add("cert_file", "%s: %s", c.CertFile, msg)
			break
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc
}

// pathErr drops the path from an *os.PathError (the message names it
// already): "no such file or directory".
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Server is the TLS config of a server (HTTPS of the dashboard and the
// metrics endpoints): cert_file and key_file are required; with ca_file,
// clients must present a certificate signed by it (mutual TLS).
func (c *Config) Server() (*tls.Config, error) {
	var p confkit.Problems
	if c.CertFile == "" || c.KeyFile == "" {
		p.In("tls").Add("", "a server needs cert_file and key_file")
	}
	tc := c.load(p.In("tls"))
	if p.Len() > 0 {
		msgs := make([]string, 0, p.Len())
		for _, q := range p.List() {
			msgs = append(msgs, q.String())
		}
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(msgs, "; "))
	}
	if tc.RootCAs != nil {
		tc.ClientCAs, tc.RootCAs = tc.RootCAs, nil
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	tc.ServerName, tc.InsecureSkipVerify = "", false
	return tc, nil
}

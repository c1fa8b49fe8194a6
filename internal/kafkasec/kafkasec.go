package kafkasec

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

// Config is a Kafka client's transport security, inlined in each kafka
// section.
type Config struct {
	TLS  tlsconf.Config `yaml:"tls"`
	SASL SASL           `yaml:"sasl"`
}

// SASL is the client's SASL authentication.
type SASL struct {
	// Mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN. Empty: no SASL.
	Mechanism string         `yaml:"mechanism"`
	User      string         `yaml:"user"`
	Password  confkit.Secret `yaml:"password"`
	// PasswordFile holds the password (one line), instead of password.
	PasswordFile string `yaml:"password_file"`
}

// Mechanisms.
const (
	ScramSHA512 = "SCRAM-SHA-512"
	ScramSHA256 = "SCRAM-SHA-256"
	Plain       = "PLAIN"
)

// ErrConfig means the security config cannot be used.
var ErrConfig = errors.New("invalid kafka security config")

// Check lists the problems of c.
func (c *Config) Check(p *confkit.Problems) {
	c.TLS.Check(p.In("tls"))
	s, sp := &c.SASL, p.In("sasl")
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.User != "" || s.Password != "" || s.PasswordFile != "" {
			sp.Add("mechanism", "user or password given without a mechanism (SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)")
		}
		return
	case ScramSHA512, ScramSHA256:
	case Plain:
		if !c.TLS.Enabled() {
			sp.Add("mechanism", "PLAIN sends the password in the clear: set tls too, or use SCRAM-SHA-512")
		}
	default:
		sp.Add("mechanism", "unknown mechanism %q (want SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)", s.Mechanism)
	}
	if s.User == "" {
		sp.Add("user", "required with a mechanism")
	}
	switch {
	case s.Password != "" && s.PasswordFile != "":
		sp.Add("password_file", "set either password or password_file, not both")
	case s.Password == "" && s.PasswordFile == "":
		sp.Add("password", "required with a mechanism (or password_file)")
	case s.PasswordFile != "":
		if _, err := os.Stat(s.PasswordFile); err != nil {
			sp.Add("password_file", "cannot read %s: %v", s.PasswordFile, errors.Unwrap(err))
		} else if err := confkit.CheckPrivate(s.PasswordFile); err != nil {
			sp.Add("password_file", "%v", err)
		}
	}
}

// Opts are the franz-go options of c: none when c is empty.
func (c *Config) Opts(log *slog.Logger) ([]kgo.Opt, error) {
	var p confkit.Problems
	c.Check(&p)
	if err := p.Err("kafka"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var opts []kgo.Opt
	if c.TLS.Enabled() {
		tc, err := c.TLS.Client(log)
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	pw := s.Password.Reveal()
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: reading sasl.password_file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	switch strings.ToUpper(s.Mechanism) {
	case ScramSHA512:
		return scram.Auth{User: s.User, Pass: pw}.AsSha512Mechanism(), nil
	case ScramSHA256:
		return scram.Auth{User: s.User, Pass: pw}.AsSha256Mechanism(), nil
	case Plain:
		return plain.Auth{User: s.User, Pass: pw}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("%w: unknown sasl.mechanism %q", ErrConfig, s.Mechanism)
}

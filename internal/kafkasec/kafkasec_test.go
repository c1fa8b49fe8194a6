package kafkasec

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"))
}

// secured is a kfake cluster that takes only TLS and SCRAM-SHA-512.
func secured(t *testing.T) (brokers []string, caFile string) {
	t.Helper()
	cert, ca := testkit.SelfSignedCA(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "fl.readings"),
		kfake.EnableSASL(), kfake.Superuser(ScramSHA512, "bridge", "s3cret-pw"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), ca
}

func produce(t *testing.T, brokers []string, c Config) error {
	t.Helper()
	opts, err := c.Opts(nil)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.RequestRetries(0), kgo.RetryTimeout(2 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Ping returns the broker's answer to the handshake (ProduceSync would
	// retry a failed authentication until ctx ends).
	if err := cl.Ping(ctx); err != nil {
		return err
	}
	return cl.ProduceSync(ctx, &kgo.Record{Topic: "fl.readings", Value: []byte("x")}).FirstErr()
}

func TestSCRAMOverTLS(t *testing.T) {
	brokers, ca := secured(t)
	pwFile := filepath.Join(t.TempDir(), "kafka.pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Config{TLS: tlsconf.Config{CAFile: ca}, SASL: SASL{Mechanism: ScramSHA512, User: "bridge", Password: "s3cret-pw"}}
	if err := produce(t, brokers, good); err != nil {
		t.Fatalf("TLS and SCRAM-SHA-512: %v", err)
	}
	fromFile := good
	fromFile.SASL.Password, fromFile.SASL.PasswordFile = "", pwFile
	if err := produce(t, brokers, fromFile); err != nil {
		t.Fatalf("password_file: %v", err)
	}
	wrong := good
	wrong.SASL.Password = "guess"
	// kfake closes the connection (a real broker answers
	// SASL_AUTHENTICATION_FAILED: the real-kafka suite checks that).
	if err := produce(t, brokers, wrong); err == nil {
		t.Fatal("produced with a wrong password")
	}
	noTLS := good
	noTLS.TLS = tlsconf.Config{}
	if err := produce(t, brokers, noTLS); err == nil {
		t.Fatal("produced without TLS to a TLS listener")
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pw")
	os.WriteFile(open, []byte("pw"), 0o644)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"none", Config{}, ""},
		{"user without mechanism", Config{SASL: SASL{User: "u"}}, "sasl.mechanism: user or password given without a mechanism"},
		{"unknown mechanism", Config{SASL: SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}}, `unknown mechanism "GSSAPI"`},
		{"no user", Config{SASL: SASL{Mechanism: ScramSHA256, Password: "p"}}, "sasl.user: required"},
		{"no password", Config{SASL: SASL{Mechanism: ScramSHA256, User: "u"}}, "sasl.password: required"},
		{"both", Config{SASL: SASL{Mechanism: ScramSHA256, User: "u", Password: "p", PasswordFile: open}}, "set either password or password_file"},
		{"plain in the clear", Config{SASL: SASL{Mechanism: Plain, User: "u", Password: "p"}}, "PLAIN sends the password in the clear"},
		{"password file open to others", Config{SASL: SASL{Mechanism: ScramSHA512, User: "u", PasswordFile: open}}, "sasl.password_file: " + open + " has mode 0644"},
	} {
		var p confkit.Problems
		tc.c.Check(&p)
		err := p.Err("kafka")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want …%s…", tc.name, err, tc.want)
		}
		if _, err := tc.c.Opts(nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Opts: %v, want ErrConfig", tc.name, err)
		}
	}
}

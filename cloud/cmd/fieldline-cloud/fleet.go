package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetCmd() *cobra.Command {
	var o fleetOptions
	cmd := group(&cobra.Command{
		Use:   "fleet",
		Short: "push signed rule bundles to the agents, run canaries, list the agents",
		Long: `Rule push for the fleet: bundles signed with an ed25519 key (fleet keygen) go
into the NATS JetStream key-value bucket fl_rules under fleet.<fleet>,
canary.<fleet> or agent.<agent_id>; agents that trust the key apply them hot.
fleet serve keeps the registry of agents (fleet agents) and withdraws a canary
that fails. Every command but keygen talks to NATS (--nats, or nats: in the
config file).`,
		Example: `  fieldline-cloud fleet keygen --out /etc/fieldline
  fieldline-cloud fleet rules push boiler.yaml --fleet boiler --key /etc/fieldline/fleet.key
  fieldline-cloud fleet agents --fleet boiler`,
	})
	f := cmd.PersistentFlags()
	f.StringVar(&o.config, "config", "", "config file (YAML, key 'fleet:' as in docs/configuration.md)")
	f.StringVar(&o.nats, "nats", "", "NATS URL(s)")
	f.StringVar(&o.key, "key", "", "private signing key file (fleet keygen), for commands that push")
	f.StringSliceVar(&o.trusted, "trusted", nil, "public key(s) to verify the bucket's values with (default: the public half of --key)")
	f.DurationVar(&o.timeout, "timeout", 15*time.Second, "how long a command waits for NATS")
	cmd.AddCommand(newFleetKeygenCmd(), newFleetRulesCmd(&o), newFleetAgentsCmd(&o), newFleetServeCmd(&o),
		newFleetAuthorityCmd(), newFleetProvisionCmd(&o), newFleetRevokeCmd(&o))
	return cmd
}

// fleetOptions are the fleet commands' common flags; they override the
// config file.
type fleetOptions struct {
	config, nats, key string
	trusted           []string
	timeout           time.Duration
}

// fleetFile is the fleet's config file: the fleet section plus, for fleet
// serve, its HTTP and log settings.
type fleetFile struct {
	Fleet fleet.Config `yaml:"fleet"`
	HTTP  httpSection  `yaml:"http"`
	Log   struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

func (f *fleetFile) Check(p *confkit.Problems) {
	f.Fleet.SetDefaults()
	f.Fleet.Check(p.In("fleet"))
	f.HTTP.Access.Check(p.In("http"))
}

// load reads the config file (when given) and applies the flags.
func (o *fleetOptions) load() (*fleetFile, error) {
	var file fleetFile
	if o.config != "" {
		if err := confkit.Load(o.config, &file); err != nil {
			return nil, err
		}
	}
	c := &file.Fleet
	if o.nats != "" {
		c.NATS.URL = o.nats
	}
	if o.key != "" {
		c.Key = o.key
	}
	if len(o.trusted) > 0 {
		c.TrustedKeys = o.trusted
	}
	c.SetDefaults()
	var p confkit.Problems
	file.Check(&p)
	if err := p.Err("fleet config"); err != nil {
		return nil, err
	}
	return &file, nil
}

// signer loads the signing key (refusing a file open to others).
func signer(c *fleet.Config) (*signed.Signer, error) {
	if c.Key == "" {
		return nil, fmt.Errorf("%w: give --key FILE (or key: in the config file); fleet keygen makes one", fleet.ErrNoKey)
	}
	k, err := signed.LoadPrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	return signed.NewSigner(k), nil
}

// ring is the keys the bucket's values are verified with: trusted_keys,
// or the public half of the signing key.
func ring(c *fleet.Config) (*signed.KeyRing, error) {
	var keys []ed25519.PublicKey
	for _, ref := range c.TrustedKeys {
		k, err := signed.LoadPublicKey(ref)
		if err != nil {
			return nil, fmt.Errorf("trusted key %s: %w", ref, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && c.Key != "" {
		s, err := signer(c)
		if err != nil {
			return nil, err
		}
		keys = append(keys, s.Public())
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return signed.NewKeyRing(keys...), nil
}

// pusher is who signs: user@host, in every statement.
func pusher() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// openStore connects to NATS (waiting up to o.timeout) and opens the
// buckets; close ends the connection.
func (o *fleetOptions) openStore(ctx context.Context, c *fleet.Config) (store *fleet.Store, closeFn func(), err error) {
	r, err := ring(c)
	if err != nil {
		return nil, nil, err
	}
	nc, err := uplink.DialNATS(c.NATS, "fieldline-cloud fleet", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, nil, fmt.Errorf("no NATS server answers at %s within %s", c.NATS.URL, o.timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	store, err = fleet.OpenStore(ctx, nc, *c, r)
	if err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrJetStreamNotEnabled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("%w (is JetStream enabled on %s?)", err, c.NATS.URL)
		}
		return nil, nil, err
	}
	return store, nc.Close, nil
}

// withStore runs f with the config and the store of o.
func (o *fleetOptions) withStore(ctx context.Context, f func(c *fleet.Config, s *fleet.Store) error) error {
	file, err := o.load()
	if err != nil {
		return err
	}
	s, closeFn, err := o.openStore(ctx, &file.Fleet)
	if err != nil {
		return err
	}
	defer closeFn()
	return f(&file.Fleet, s)
}

// target is the bucket key of --fleet F or --agent A (one of them).
func target(fleetName, agent string) (string, error) {
	switch {
	case (fleetName == "") == (agent == ""):
		return "", usageError{errors.New("give exactly one of --fleet and --agent")}
	case fleetName != "":
		if err := signed.CheckName(fleetName); err != nil {
			return "", usageError{fmt.Errorf("--fleet: %w", err)}
		}
		return signed.FleetKey(fleetName), nil
	default:
		if err := signed.CheckName(agent); err != nil {
			return "", usageError{fmt.Errorf("--agent: %w", err)}
		}
		return signed.AgentKey(agent), nil
	}
}

func describe(w io.Writer, verb string, st *signed.Statement, kvRev uint64) {
	what := "clear (the key holds no bundle)"
	if !st.Clear {
		if prog, err := fleet.Validate(st.Key, []byte(st.Bundle)); err == nil {
			what = fmt.Sprintf("bundle %q version %s", prog.Name(), prog.Version())
		}
	}
	fmt.Fprintf(w, "%s %s revision %d: %s, signed with key %s (bucket sequence %d)\n", verb, st.Key, st.Revision, what, st.KeyID, kvRev)
}

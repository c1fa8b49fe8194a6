package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/cloud/identity"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// authorityFlag is --authority of the identity commands.
func authorityFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "authority", "/etc/fieldline/authority", "the NATS operator's directory (fleet authority init)")
}

func newFleetAuthorityCmd() *cobra.Command {
	var dir, name string
	cmd := &cobra.Command{
		Use:   "authority-init [--authority DIR]",
		Short: "make the NATS operator, accounts and server config that give every agent its own identity",
		Long: `Makes a NATS operator (decentralized JWT, nkeys) in DIR (mode 0700): the
accounts AGENTS (the agents and the fleet tools), CLOUD (the bridges) and SYS,
the users bridge.creds, fleet.creds and sys.creds (mode 0600), and
nats-server.conf, to include in the NATS server's configuration. It prints the
agents' account key, the bridge's identity.agents_account. Then fleet provision
issues each agent's credentials. docs/security.md tells the design.`,
		Example: "  fieldline-cloud fleet authority-init --authority /etc/fieldline/authority",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := identity.Init(dir, identity.InitOptions{Name: name})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "authority:       %s (mode 0700; the seeds in it are secrets: keep operator.nk offline)\n", a.Dir)
			fmt.Fprintf(w, "server config:   %s (include it in nats-server's configuration)\n", a.File(identity.ServerConfigFile))
			fmt.Fprintf(w, "bridge:          nats: {creds: %s}, identity: {agents_account: %s}\n", a.File(identity.BridgeCreds), a.AgentsAccountKey())
			fmt.Fprintf(w, "fleet tools:     nats: {creds: %s}\n", a.File(identity.FleetCreds))
			fmt.Fprintf(w, "revocations:     pushed with %s\n", a.File(identity.SysCreds))
			return nil
		},
	}
	authorityFlag(cmd, &dir)
	cmd.Flags().StringVar(&name, "name", "fieldline", "the operator's name")
	return cmd
}

func newFleetProvisionCmd(o *fleetOptions) *cobra.Command {
	var dir, fleetName, out, bucket, gwCreds string
	cmd := &cobra.Command{
		Use:   "provision AGENT [--fleet F] [--authority DIR] [--out DIR]",
		Short: "issue an agent's NATS credentials and write its ready config",
		Long: `Issues AGENT's credentials, signed by the AGENTS account of the authority: a
user JWT named AGENT that may publish only fl.up.AGENT and fl.status.AGENT,
read only its own and its fleet's rule keys, and nothing else. Writes
OUT/AGENT.creds (mode 0600: copy it to the gateway, then delete it here) and
OUT/AGENT.yaml, an agent config with agent.id, agent.fleet, the NATS URL
(--nats), the creds file as it will be on the gateway (/etc/fieldline/AGENT.creds)
and the trusted keys (--trusted, or the public half of --key); add the sources.
Provisioning an agent again revokes its earlier credentials (pushed with
sys.creds when --nats is given).`,
		Example: "  fieldline-cloud fleet provision gw-0001 --fleet boiler --nats tls://nats.example.com:4222 --trusted /etc/fieldline/fleet.pub",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProvision(cmd.Context(), cmd.OutOrStdout(), o, provisionArgs{dir: dir, agent: args[0], fleet: fleetName, out: out, bucket: bucket, gwCreds: gwCreds})
		},
	}
	authorityFlag(cmd, &dir)
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the agent's fleet (agent.fleet; it reads fleet.F and canary.F)")
	cmd.Flags().StringVar(&out, "out", ".", "folder to write AGENT.creds and AGENT.yaml into")
	cmd.Flags().StringVar(&bucket, "bucket", fleet.DefaultRulesBucket, "the rule bucket (rules.bucket)")
	cmd.Flags().StringVar(&gwCreds, "gateway-creds", "", "where the creds file will be on the gateway (default /etc/fieldline/AGENT.creds)")
	return cmd
}

func newFleetRevokeCmd(o *fleetOptions) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "revoke AGENT [--authority DIR] --nats URL",
		Short: "take an agent's NATS credentials away: its connections close at once",
		Long: `Adds AGENT's user key to the AGENTS account JWT's revocations and pushes the
account JWT to the NATS servers with the authority's sys.creds
($SYS.REQ.CLAIMS.UPDATE): the servers close the agent's connections at once and
refuse its credentials from then on. fleet provision AGENT issues new ones.`,
		Example: "  fieldline-cloud fleet revoke gw-0001 --nats tls://nats.example.com:4222",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRevoke(cmd.Context(), cmd.OutOrStdout(), o, dir, args[0])
		},
	}
	authorityFlag(cmd, &dir)
	return cmd
}

// provisionArgs are fleet provision's arguments and flags.
type provisionArgs struct{ dir, agent, fleet, out, bucket, gwCreds string }

func runProvision(ctx context.Context, w io.Writer, o *fleetOptions, pa provisionArgs) error {
	dir, agent, fleetName, out := pa.dir, pa.agent, pa.fleet, pa.out
	if pa.gwCreds == "" {
		pa.gwCreds = "/etc/fieldline/" + agent + ".creds"
	}
	if err := uplink.CheckAgentID(agent); err != nil {
		return usageError{err}
	}
	if fleetName != "" {
		if err := signed.CheckName(fleetName); err != nil {
			return usageError{fmt.Errorf("--fleet: %w", err)}
		}
	}
	file, err := o.load()
	if err != nil {
		return err
	}
	a, err := identity.Open(dir)
	if err != nil {
		return err
	}
	keys, err := trustedForAgents(&file.Fleet)
	if err != nil {
		return err
	}
	p, err := a.Provision(agent, fleetName, pa.bucket)
	if err != nil {
		return err
	}
	credsFile := filepath.Join(out, agent+".creds")
	if err := writeNew(credsFile, p.Creds, 0o600); err != nil {
		return err
	}
	conf := agentConfig(p.Agent, file.Fleet.NATS.URL, pa.gwCreds, keys)
	confFile := filepath.Join(out, agent+".yaml")
	if err := writeNew(confFile, []byte(conf), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "agent %s: credentials %s (mode 0600; install as %s, owned by the agent's user), config %s\n", agent, credsFile, pa.gwCreds, confFile)
	if len(keys) == 0 {
		fmt.Fprintf(w, "no trusted key given (--trusted or --key): the agent will not take pushed rule bundles\n")
	}
	if p.Replaced != "" {
		fmt.Fprintf(w, "its earlier credentials (user %s) are revoked\n", p.Replaced)
		if err := pushAccount(ctx, w, o, a, file.Fleet.NATS.URL); err != nil {
			return err
		}
	}
	fmt.Fprint(w, conf)
	return nil
}

func runRevoke(ctx context.Context, w io.Writer, o *fleetOptions, dir, agent string) error {
	file, err := o.load()
	if err != nil {
		return err
	}
	a, err := identity.Open(dir)
	if err != nil {
		return err
	}
	ag, err := a.Agent(agent)
	if err != nil {
		return err
	}
	if _, err := a.Revoke(agent); err != nil {
		return err
	}
	fmt.Fprintf(w, "agent %s: credentials of user %s revoked in %s\n", agent, ag.UserKey, a.File("agents.jwt"))
	return pushAccount(ctx, w, o, a, file.Fleet.NATS.URL)
}

// pushAccount sends the AGENTS account JWT to the servers at url with the
// authority's system user.
func pushAccount(ctx context.Context, w io.Writer, o *fleetOptions, a *identity.Authority, url string) error {
	token, err := a.AccountJWT()
	if err != nil {
		return err
	}
	nc, err := uplink.DialNATS(uplink.NATSConfig{URL: url, Creds: a.File(identity.SysCreds)}, "fieldline-cloud fleet", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for !nc.IsConnected() {
		if !retry.Sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("not pushed: no NATS server answers at %s within %s; push %s later (fleet revoke again)", url, o.timeout, a.File("agents.jwt"))
		}
	}
	if err := identity.Push(ctx, nc, token); err != nil {
		return fmt.Errorf("not pushed to %s: %w", url, err)
	}
	fmt.Fprintf(w, "account JWT pushed to %s: the servers refuse the revoked credentials from now on\n", url)
	return nil
}

// trustedForAgents are the keys, inline, an agent's rules.trusted_keys
// takes: --trusted, or the public half of --key.
func trustedForAgents(c *fleet.Config) ([]string, error) {
	r, err := ring(c)
	if err != nil || r == nil {
		return nil, err
	}
	var out []string
	for _, k := range r.Keys() {
		out = append(out, signed.FormatPublicKey(k))
	}
	return out, nil
}

// agentConfig is a ready agent config for ag: identity and uplink; the
// sources are the operator's to add.
func agentConfig(ag identity.Agent, natsURL, creds string, trusted []string) string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "# Agent %s, written by fieldline-cloud fleet provision. Add the sources;\n# fieldline-agent check-config checks the file.\n", ag.ID)
	fmt.Fprintf(&b, "agent:\n  id: %s\n", ag.ID)
	if ag.Fleet != "" {
		fmt.Fprintf(&b, "  fleet: %s\n", ag.Fleet)
	}
	fmt.Fprintf(&b, "uplink:\n  nats:\n    url: %s\n    creds: %s   # mode 0600, readable by the agent's user only\n", q(natsURL), q(creds))
	fmt.Fprintf(&b, "rules:\n  bucket: %s\n", ag.Bucket)
	if len(trusted) > 0 {
		qs := make([]string, len(trusted))
		for i, k := range trusted {
			qs[i] = q(k)
		}
		fmt.Fprintf(&b, "  trusted_keys: [%s]\n", strings.Join(qs, ", "))
	}
	fmt.Fprintf(&b, "sources: {}\n")
	return b.String()
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

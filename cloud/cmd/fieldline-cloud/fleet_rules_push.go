package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/internal/cli"
	"github.com/fieldline/fieldline/rules/signed"
)

type pushOptions struct {
	fleet, agent, canary, selector, note string
	rollout                              fleet.RolloutOptions
}

func newFleetPushCmd(o *fleetOptions) *cobra.Command {
	var p pushOptions
	cmd := &cobra.Command{
		Use:   "push FILE (--fleet F | --agent A) [--canary N% | --canary-selector LABEL=VALUE,...]",
		Short: "validate, sign and store a rule bundle for a fleet, an agent or a canary",
		Long: `Validates the bundle as the agents compile it (every problem listed; nothing is
pushed when there is one), gives it the next revision of the bucket, signs it
with --key and stores it under fleet.<F> or agent.<A> (an agent's own bundle
overrides its fleet's). The write fails, writing nothing, when another push
changed the key meanwhile.

With --canary or --canary-selector the bundle goes to canary.<F>, for the
agents of the fleet the selection includes (a percentage by a fixed hash of
the agent id, label pairs, or both). fleet serve watches it: a canary agent
that refuses the bundle, has not applied it within --apply-timeout, stops its
heartbeats or its telemetry for --max-silence, or raises more than
--max-errors rule errors withdraws the canary; after --watch without a failure
it has passed and fleet rules promote rolls it out.`,
		Example: `  fieldline-cloud fleet rules push boiler.yaml --fleet boiler --key fleet.key
  fieldline-cloud fleet rules push special.yaml --agent gw-0042 --key fleet.key
  fieldline-cloud fleet rules push boiler.yaml --fleet boiler --canary 10% --watch 30m --key fleet.key
  fieldline-cloud fleet rules push boiler.yaml --fleet boiler --canary-selector ring=early --key fleet.key`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd.Context(), cmd.OutOrStdout(), o, p, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.fleet, "fleet", "", "the fleet (key fleet.<F>, or canary.<F> with --canary)")
	f.StringVar(&p.agent, "agent", "", "one agent (key agent.<A>)")
	f.StringVar(&p.canary, "canary", "", "push as a canary to this share of the fleet, e.g. 10%")
	f.StringVar(&p.selector, "canary-selector", "", "push as a canary to the agents with these labels, e.g. ring=early,site=a")
	f.DurationVar(&p.rollout.Watch, "watch", fleet.DefaultWatch, "canary: how long it must run without a failure to pass")
	f.DurationVar(&p.rollout.ApplyTimeout, "apply-timeout", fleet.DefaultApplyTimeout, "canary: how long an agent has to apply it")
	f.DurationVar(&p.rollout.MaxSilence, "max-silence", fleet.DefaultMaxSilence, "canary: heartbeats, or telemetry after applying, missing this long fail it")
	f.Uint64Var(&p.rollout.MaxErrors, "max-errors", 0, "canary: new rule errors one agent may raise")
	f.StringVar(&p.note, "note", "", "why, kept in the signed statement")
	return cmd
}

// parseCanary reads --canary and --canary-selector (nil: no canary).
func parseCanary(pct, sel string) (*signed.Canary, error) {
	if pct == "" && sel == "" {
		return nil, nil
	}
	var c signed.Canary
	if pct != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(pct), "%"), 64)
		if err != nil || v <= 0 || v > 100 {
			return nil, fmt.Errorf("--canary %q: want a share of the fleet like 10%%, within (0, 100]", pct)
		}
		c.Percent = v
	}
	if sel != "" {
		c.Selector = map[string]string{}
		for _, pair := range strings.Split(sel, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				return nil, fmt.Errorf("--canary-selector %q: want LABEL=VALUE pairs separated by commas", sel)
			}
			c.Selector[k] = v
		}
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("--canary: %w", err)
	}
	return &c, nil
}

func runPush(ctx context.Context, w io.Writer, o *fleetOptions, p pushOptions, file string) error {
	key, err := target(p.fleet, p.agent)
	if err != nil {
		return err
	}
	canary, err := parseCanary(p.canary, p.selector)
	if err != nil {
		return usageError{err}
	}
	if canary != nil && p.agent != "" {
		return usageError{errors.New("a canary is a share of a fleet: give --fleet, not --agent")}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading the bundle: %w", err)
	}
	if _, err := fleet.Validate(file, data); err != nil {
		cli.PrintProblems(w, file, err)
		return fmt.Errorf("%s: not pushed", file)
	}
	return o.withStore(ctx, func(c *fleet.Config, s *fleet.Store) error {
		sig, err := signer(c)
		if err != nil {
			return err
		}
		if canary != nil {
			r, err := s.StartCanary(ctx, sig, p.fleet, data, *canary, p.rollout, pusher())
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "pushed canary.%s revision %d: bundle %q version %s for %s of fleet %s\n", p.fleet, r.Revision, r.Name, r.Version, canary, p.fleet)
			fmt.Fprintf(w, "fleet serve watches it for %s; fieldline-cloud fleet rules status --fleet %s shows how it goes\n", r.Watch.Round(time.Second), p.fleet)
			return nil
		}
		pushed, err := s.Push(ctx, sig, fleet.Push{Key: key, Bundle: data, Signer: pusher(), Note: p.note})
		if err != nil {
			return err
		}
		describe(w, "pushed", pushed.Statement, pushed.KVRevision)
		return nil
	})
}

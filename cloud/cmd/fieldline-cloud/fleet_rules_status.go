package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetStatusCmd(o *fleetOptions) *cobra.Command {
	var fleetName string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--fleet F] [--json]",
		Short: "what each fleet should run, what its agents run, how its canary goes",
		Long: `For each fleet (or --fleet F): the bundle of fleet.<F> and of canary.<F>, each
verified with the trusted keys (a value that does not verify, such as one
written straight into the bucket, is shown with the reason agents refuse it),
the canary's rollout (watching, passed, reverted with the reason, promoted),
the agents' own bundles, and how many agents run each revision, from the
registry fleet serve keeps.`,
		Example: "  fieldline-cloud fleet rules status --fleet boiler --trusted /etc/fieldline/fleet.pub",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fleetName != "" {
				if err := signed.CheckName(fleetName); err != nil {
					return usageError{fmt.Errorf("--fleet: %w", err)}
				}
			}
			return o.withStore(cmd.Context(), func(_ *fleet.Config, s *fleet.Store) error {
				reps, err := s.FleetReports(cmd.Context(), fleetName, time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(reps)
				}
				for _, r := range reps {
					printFleetReport(cmd.OutOrStdout(), &r)
				}
				if len(reps) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no fleet: nothing pushed and no agent heard from")
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "one fleet (default: every fleet)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printFleetReport(w io.Writer, r *fleet.FleetReport) {
	fmt.Fprintf(w, "fleet %s\n", r.Fleet)
	printKey(w, "bundle", signed.FleetKey(r.Fleet), r.Bundle)
	printKey(w, "canary", signed.CanaryKey(r.Fleet), r.Canary)
	if ro := r.Rollout; ro != nil {
		fmt.Fprintf(w, "  rollout  canary %d (%s %s) for %s: %s", ro.Revision, ro.Name, ro.Version, ro.Canary.String(), ro.State)
		switch {
		case ro.Running():
			fmt.Fprintf(w, " since %s, watch %s; %s\n", ro.StartedAt.Format(time.RFC3339), ro.Watch, ro.Summary)
		default:
			fmt.Fprintf(w, " at %s\n", ro.EndedAt.Format(time.RFC3339))
		}
		if ro.Reason != "" {
			fmt.Fprintf(w, "           %s\n", ro.Reason)
		}
	}
	for _, k := range r.Overrides {
		printKey(w, "override", k.Key, &k)
	}
	fmt.Fprintf(w, "  agents   %d, %d online", r.Agents, r.Online)
	for _, run := range slices.Sorted(maps.Keys(r.Running)) {
		fmt.Fprintf(w, "; %d run %s", r.Running[run], run)
	}
	fmt.Fprintln(w)
	for _, e := range r.Refusing {
		fmt.Fprintf(w, "  refusing %s\n", e)
	}
}

func printKey(w io.Writer, label, key string, k *fleet.KeyReport) {
	switch {
	case k == nil:
		fmt.Fprintf(w, "  %-8s %s: none\n", label, key)
	case k.Deleted:
		fmt.Fprintf(w, "  %-8s %s: deleted without a signature at %s (agents keep what they took from it)\n", label, key, k.Stored.Format(time.RFC3339))
	case k.Statement == nil:
		fmt.Fprintf(w, "  %-8s %s: REFUSED by agents: %s\n", label, key, k.Error)
	case k.Statement.Clear:
		fmt.Fprintf(w, "  %-8s %s@%d: cleared at %s by %s%s\n", label, key, k.Statement.Revision, k.Statement.SignedAt.Format(time.RFC3339), k.Statement.Signer, note(k.Statement.Note))
	default:
		sel := ""
		if k.Statement.Canary != nil {
			sel = " for " + k.Statement.Canary.String()
		}
		fmt.Fprintf(w, "  %-8s %s@%d: %s %s%s, signed %s by %s with key %s%s\n", label, key, k.Statement.Revision, k.Name, k.Version, sel,
			k.Statement.SignedAt.Format(time.RFC3339), k.Statement.Signer, k.Statement.KeyID, note(k.Statement.Note))
	}
}

func note(n string) string {
	if n == "" {
		return ""
	}
	return " (" + strings.TrimSpace(n) + ")"
}

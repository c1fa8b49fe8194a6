package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetHistoryCmd(o *fleetOptions) *cobra.Command {
	var fleetName, agent, canary string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history (--fleet F | --agent A | --canary F) [--json]",
		Short: "the revisions a key held, oldest first, each verified",
		Long: `Lists what the bucket keeps of one key (64 values by default): each value's
revision, when it was signed and by whom, its bundle's name and version, and
whether it verifies with the trusted keys (an unsigned or forged value shows
why agents refused it). fleet rules rollback --to REV takes a revision of it.`,
		Example: "  fieldline-cloud fleet rules history --fleet boiler --trusted /etc/fieldline/fleet.pub",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var key string
			n := 0
			for _, k := range []struct{ v, key string }{{fleetName, signed.FleetKey(fleetName)}, {agent, signed.AgentKey(agent)}, {canary, signed.CanaryKey(canary)}} {
				if k.v != "" {
					n++
					key = k.key
				}
			}
			if n != 1 {
				return usageError{errors.New("give exactly one of --fleet, --agent and --canary")}
			}
			if _, _, err := signed.SplitKey(key); err != nil {
				return usageError{err}
			}
			return o.withStore(cmd.Context(), func(_ *fleet.Config, s *fleet.Store) error {
				hist, err := s.History(cmd.Context(), key)
				if err != nil {
					return err
				}
				var reps []fleet.KeyReport
				for _, e := range hist {
					reps = append(reps, fleet.KeyReportOf(e))
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(reps)
				}
				if len(reps) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: nothing pushed\n", key)
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REVISION\tSTORED\tBUNDLE\tSIGNED BY\tNOTE")
				for _, r := range reps {
					st := r.Statement
					switch {
					case r.Deleted:
						fmt.Fprintf(tw, "-\t%s\tdeleted without a signature (ignored by agents)\t\t\n", r.Stored.Format(time.RFC3339))
					case st == nil:
						fmt.Fprintf(tw, "-\t%s\tREFUSED: %s\t\t\n", r.Stored.Format(time.RFC3339), r.Error)
					case st.Clear:
						fmt.Fprintf(tw, "%d\t%s\tclear\t%s\t%s\n", st.Revision, r.Stored.Format(time.RFC3339), st.Signer, st.Note)
					default:
						fmt.Fprintf(tw, "%d\t%s\t%s %s\t%s\t%s\n", st.Revision, r.Stored.Format(time.RFC3339), r.Name, r.Version, st.Signer, st.Note)
					}
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the key fleet.<F>")
	cmd.Flags().StringVar(&agent, "agent", "", "the key agent.<A>")
	cmd.Flags().StringVar(&canary, "canary", "", "the key canary.<F>")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

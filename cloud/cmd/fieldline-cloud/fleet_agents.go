package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetAgentsCmd(o *fleetOptions) *cobra.Command {
	var fleetName string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "agents [--fleet F] [--json]",
		Short: "every agent: online, last seen, buffer, rules wanted and applied, errors",
		Long: `Lists the agents of the registry fleet serve keeps from their heartbeats
(fl.status.<agent_id>): online (a heartbeat within offline_after), when last
seen, the readings waiting in its buffer and the age of the oldest, the rules
it runs (key@revision, or file) and those the bucket means it to run, and its
errors (a refused bundle, rule and source errors). No server needs to answer:
it reads the buckets.`,
		Example: "  fieldline-cloud fleet agents --fleet boiler",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fleetName != "" {
				if err := signed.CheckName(fleetName); err != nil {
					return usageError{fmt.Errorf("--fleet: %w", err)}
				}
			}
			return o.withStore(cmd.Context(), func(_ *fleet.Config, s *fleet.Store) error {
				now := time.Now()
				rows, err := s.AgentRows(cmd.Context(), fleetName, now)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				if len(rows) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no agent in the registry (is fleet serve running?)")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "AGENT\tFLEET\tONLINE\tLAST SEEN\tDEPTH\tOLDEST UNSENT\tRULES APPLIED\tWANTED\tERRORS")
				for _, r := range rows {
					online := "no"
					if r.Online {
						online = "yes"
					}
					wanted := r.Wanted
					switch {
					case wanted == "":
						wanted = "-"
					case r.InSync():
						wanted = "="
					}
					applied := r.Applied
					if r.Version != "" {
						applied += " (" + r.Version + ")"
					}
					errs := strings.Join(r.Errors, "; ")
					if errs == "" {
						errs = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%d\t%s\t%s\t%s\t%s\n", r.ID, orDash(r.Fleet), online, now.Sub(r.LastSeen).Round(time.Second),
						r.Depth, (time.Duration(r.OldestUnsentMs) * time.Millisecond).Round(time.Millisecond), applied, wanted, errs)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the agents of one fleet")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetAgentsCmd(o *fleetOptions) *cobra.Command {
	var fleetName string
	var asJSON bool
	var dashFlags dashboardFlags
	cmd := &cobra.Command{
		Use:   "agents [--fleet F] [--json] [--dashboard URL [--token-file F]]",
		Short: "every agent: online, last seen, buffer, rules wanted and applied, errors",
		Long: `Lists the agents of the registry fleet serve keeps from their heartbeats
(fl.status.<agent_id>): online (a heartbeat within offline_after), when last
seen, the readings waiting in its buffer and the age of the oldest, the rules
it runs (key@revision, or file) and those the bucket means it to run, and its
errors (a refused bundle, rule and source errors). No server needs to answer:
it reads the buckets. With --dashboard it asks a running dashboard's
/api/agents instead (no NATS access needed; the dashboard does not read the
rule bucket, so WANTED shows ?).`,
		Example: "  fieldline-cloud fleet agents --fleet boiler\n  fieldline-cloud fleet agents --dashboard http://127.0.0.1:9275",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fleetName != "" {
				if err := signed.CheckName(fleetName); err != nil {
					return usageError{fmt.Errorf("--fleet: %w", err)}
				}
			}
			if dashFlags.url != "" {
				c, err := dashFlags.client()
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				defer cancel()
				views, err := c.Agents(ctx)
				if err != nil {
					return err
				}
				return printAgents(cmd.OutOrStdout(), rowsOfViews(views, fleetName), time.Now(), asJSON, false)
			}
			return o.withStore(cmd.Context(), func(_ *fleet.Config, s *fleet.Store) error {
				now := time.Now()
				rows, err := s.AgentRows(cmd.Context(), fleetName, now)
				if err != nil {
					return err
				}
				return printAgents(cmd.OutOrStdout(), rows, now, asJSON, true)
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the agents of one fleet")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	dashFlags.add(cmd.Flags(), "reading the buckets (it does not read the rule bucket, so WANTED shows ?)")
	return cmd
}

// rowsOfViews turns a dashboard's /api/agents into rows (of fleet, when
// not empty). An agent the dashboard knows from its readings only has no
// heartbeat: its rules show as "-".
func rowsOfViews(views []dashboard.AgentView, fleetName string) []fleet.AgentRow {
	rows := []fleet.AgentRow{}
	for _, v := range views {
		var lastSeen time.Time
		if v.LastSeen > 0 {
			lastSeen = time.UnixMilli(v.LastSeen)
		}
		if v.Status == nil {
			if fleetName == "" {
				rows = append(rows, fleet.AgentRow{ID: v.ID, Online: v.Online, LastSeen: lastSeen, Depth: v.Depth, OldestUnsentMs: v.OldestUnsentMs, Applied: "-"})
			}
			continue
		}
		if fleetName != "" && v.Status.Fleet != fleetName {
			continue
		}
		rows = append(rows, fleet.RowOf(v.ID, v.Online, lastSeen, v.Status))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows
}

// printAgents prints rows as a table or JSON. wantedKnown: the rows' Wanted
// was read from the rule bucket (else the column shows ?).
func printAgents(out io.Writer, rows []fleet.AgentRow, now time.Time, asJSON, wantedKnown bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 && wantedKnown {
		fmt.Fprintln(out, "no agent in the registry (is fleet serve running?)")
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "no agent on the dashboard (has a heartbeat reached it?)")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tFLEET\tONLINE\tLAST SEEN\tDEPTH\tOLDEST UNSENT\tRULES APPLIED\tWANTED\tERRORS")
	for _, r := range rows {
		online := "no"
		if r.Online {
			online = "yes"
		}
		wanted := r.Wanted
		switch {
		case !wantedKnown:
			wanted = "?"
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
		seen := "never"
		if !r.LastSeen.IsZero() {
			seen = now.Sub(r.LastSeen).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, orDash(r.Fleet), online, seen,
			r.Depth, (time.Duration(r.OldestUnsentMs) * time.Millisecond).Round(time.Millisecond), applied, wanted, errs)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

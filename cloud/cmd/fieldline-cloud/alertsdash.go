package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/dashboard"
)

// listFromDashboard prints `alerts list` from a dashboard's /api/alerts, in
// the same columns as from the topics.
func listFromDashboard(cmd *cobra.Command, url string) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	v, err := (&dashboard.Client{Base: url}).Alerts(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FINGERPRINT\tSTATE\tRULE\tAGENT\tSENSOR\tSINCE\tVALUE\tORIGIN")
	for _, a := range v.Active {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%g\t%s\n", a.Fingerprint, a.To, a.Rule, a.Agent,
			dash(a.Sensor), stamp(a.ActiveSince*1e6), float64(a.Value), a.Origin)
	}
	return w.Flush()
}

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/internal/confkit"
)

// dashboardFlags are the flags of a command that can ask a running
// dashboard's JSON API instead of reading Kafka or NATS.
type dashboardFlags struct {
	url, tokenFile string
}

func (d *dashboardFlags) add(fs *pflag.FlagSet, instead string) {
	fs.StringVar(&d.url, "dashboard", "", "ask a running dashboard (its address) instead of "+instead)
	fs.StringVar(&d.tokenFile, "token-file", "", "with --dashboard: a file holding the dashboard's bearer token (private: mode 0600)")
}

// client returns the dashboard's client, with the token of tokenFile.
func (d *dashboardFlags) client() (*dashboard.Client, error) {
	c := &dashboard.Client{Base: d.url}
	if d.tokenFile == "" {
		return c, nil
	}
	if err := confkit.CheckPrivate(d.tokenFile); err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	b, err := os.ReadFile(d.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	c.Token = strings.TrimSpace(string(b))
	return c, nil
}

// listFromDashboard prints `alerts list` from a dashboard's /api/alerts, in
// the same columns as from the topics.
func listFromDashboard(cmd *cobra.Command, d *dashboardFlags) error {
	c, err := d.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	v, err := c.Alerts(ctx)
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

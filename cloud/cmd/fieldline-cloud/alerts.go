package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/notify"
)

// alertsOptions are the flags every alerts subcommand has: where Kafka
// and the topics are.
type alertsOptions struct{ config, kafka string }

func (o *alertsOptions) add(f *pflag.FlagSet) {
	f.StringVar(&o.config, "config", "", "the notifier's config file, for its Kafka and topics")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers, comma-separated")
}

// kafka returns the notifier's Kafka config, a context bounded for a
// command line, and a table writer.
func (o *alertsOptions) open(cmd *cobra.Command) (alertsKafka, context.Context, context.CancelFunc, *tabwriter.Writer, error) {
	file, err := loadNotify(o.config, o.kafka)
	if err != nil {
		return alertsKafka{}, nil, nil, nil, err
	}
	k := alertsKafka{KafkaConfig: file.Notify.Kafka}
	if k.opts, err = k.Security.Opts(nil); err != nil {
		return alertsKafka{}, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	return k, ctx, cancel, tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0), nil
}

// alertsKafka is the notifier's Kafka section and its TLS and SASL options.
type alertsKafka struct {
	notify.KafkaConfig
	opts []kgo.Opt
}

func newAlertsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "alerts",
		Short: "list, history, silence and unsilence alerts",
		Long: `Shows and mutes alerts, from the topics the processor and the notifier keep:
fl.alerts.state (each alert's latest transition), fl.alerts (every
transition) and fl.alerts.silences.`,
		Example: `  fieldline-cloud alerts list --config notify.yaml
  fieldline-cloud alerts silence --match alertname=gateway-offline --match agent='gw-1*' --for 2h --comment maintenance`,
	})
	cmd.AddCommand(newAlertsListCmd(), newAlertsHistoryCmd(), newAlertsSilenceCmd(), newAlertsUnsilenceCmd(), newAlertsSilencesCmd())
	return cmd
}

func newAlertsListCmd() *cobra.Command {
	var o alertsOptions
	var all bool
	var dashFlags dashboardFlags
	cmd := &cobra.Command{
		Use:   "list [--all] [--dashboard URL [--token-file F]]",
		Short: "alerts pending, firing or without data (--all: every alert's latest state)",
		Example: `  fieldline-cloud alerts list --config notify.yaml
  fieldline-cloud alerts list --dashboard http://127.0.0.1:9275`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dashFlags.url != "" {
				if all {
					return usageError{fmt.Errorf("--all reads the topics; the dashboard keeps the active alerts only")}
				}
				return listFromDashboard(cmd, &dashFlags)
			}
			k, ctx, cancel, w, err := o.open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			evs, err := notify.Current(ctx, k.Brokers, k.StateTopic, all, k.opts...)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "FINGERPRINT\tSTATE\tRULE\tAGENT\tSENSOR\tSINCE\tVALUE\tORIGIN")
			for _, ev := range evs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%g\t%s\n", fieldline.FingerprintString(ev.Fingerprint), ev.To, ev.Rule, ev.AgentID,
					dash(ev.SensorID), stamp(ev.ActiveSinceNs), ev.Value, ev.Origin)
			}
			return w.Flush()
		},
	}
	o.add(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every alert's latest state, resolved ones too")
	dashFlags.add(cmd.Flags(), "reading Kafka")
	return cmd
}

func newAlertsHistoryCmd() *cobra.Command {
	var o alertsOptions
	var f notify.HistoryFilter
	var since time.Duration
	cmd := &cobra.Command{
		Use:     "history [--agent A] [--rule R] [--fingerprint F] [--since DURATION]",
		Short:   "the transitions on fl.alerts, oldest first",
		Example: "  fieldline-cloud alerts history --agent gw-1 --since 24h",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, ctx, cancel, w, err := o.open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			evs, err := notify.History(ctx, k.Brokers, k.AlertsTopic, f, k.opts...)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "TIME\tFINGERPRINT\tSEQ\tTRANSITION\tRULE\tAGENT\tSENSOR\tVALUE")
			for _, ev := range evs {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s→%s\t%s\t%s\t%s\t%g\n", stamp(ev.TimeNs), fieldline.FingerprintString(ev.Fingerprint), ev.Seq,
					ev.From, ev.To, ev.Rule, ev.AgentID, dash(ev.SensorID), ev.Value)
			}
			return w.Flush()
		},
	}
	o.add(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&f.Agent, "agent", "", "only this agent")
	fl.StringVar(&f.Rule, "rule", "", "only this rule")
	fl.StringVar(&f.Fingerprint, "fingerprint", "", "only this alert (16 hex digits)")
	fl.DurationVar(&since, "since", 0, "only the last DURATION")
	return cmd
}

func newAlertsSilenceCmd() *cobra.Command {
	var o alertsOptions
	var ms []string
	var dur time.Duration
	var comment, by string
	cmd := &cobra.Command{
		Use:     "silence --match NAME=GLOB... [--for 2h] [--comment TEXT] [--by WHO]",
		Short:   "mute the notifications of the alerts whose labels all match; prints the silence's id",
		Example: "  fieldline-cloud alerts silence --match agent='gw-1*' --for 2h --comment 'site maintenance'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(ms) == 0 {
				return usageError{fmt.Errorf("at least one --match NAME=GLOB")}
			}
			var matchers []notify.Matcher
			for _, m := range ms {
				mt, err := notify.ParseMatcher(m)
				if err != nil {
					return usageError{err}
				}
				matchers = append(matchers, mt)
			}
			k, ctx, cancel, w, err := o.open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			now := time.Now()
			s := notify.Silence{ID: notify.NewSilenceID(), Matchers: matchers, StartsAt: now, EndsAt: now.Add(dur), CreatedBy: by, Comment: comment}
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, k.opts...)...)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := notify.PutSilence(ctx, cl, k.SilencesTopic, s); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\tuntil %s\n", s.ID, s.EndsAt.UTC().Format(time.RFC3339))
			return w.Flush()
		},
	}
	o.add(cmd.Flags())
	f := cmd.Flags()
	f.StringArrayVar(&ms, "match", nil, "NAME=GLOB, repeated; all must match")
	f.DurationVar(&dur, "for", 2*time.Hour, "how long")
	f.StringVar(&comment, "comment", "", "why")
	f.StringVar(&by, "by", os.Getenv("USER"), "who")
	return cmd
}

func newAlertsUnsilenceCmd() *cobra.Command {
	var o alertsOptions
	cmd := &cobra.Command{
		Use:     "unsilence ID",
		Short:   "end a silence",
		Example: "  fieldline-cloud alerts unsilence 3f2a9c1d0b7e4a55",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ctx, cancel, _, err := o.open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, k.opts...)...)
			if err != nil {
				return err
			}
			defer cl.Close()
			return notify.DeleteSilence(ctx, cl, k.SilencesTopic, args[0])
		},
	}
	o.add(cmd.Flags())
	return cmd
}

func newAlertsSilencesCmd() *cobra.Command {
	var o alertsOptions
	var all bool
	cmd := &cobra.Command{
		Use:     "silences [--all]",
		Short:   "the silences not ended (--all: every one kept)",
		Example: "  fieldline-cloud alerts silences --config notify.yaml",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, ctx, cancel, w, err := o.open(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			ss, err := notify.Silences(ctx, k.Brokers, k.SilencesTopic, time.Now(), all, k.opts...)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "ID\tMATCHERS\tSTARTS\tENDS\tBY\tCOMMENT")
			for _, s := range ss {
				fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Matchers, s.StartsAt.UTC().Format(time.RFC3339), s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, s.Comment)
			}
			return w.Flush()
		},
	}
	o.add(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "ended silences too")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

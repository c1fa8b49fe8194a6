package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/internal/cli"
)

// matchers collects repeated --match flags.
type matchers []notify.Matcher

func (m *matchers) String() string { return fmt.Sprint(*m) }
func (m *matchers) Set(s string) error {
	mt, err := notify.ParseMatcher(s)
	if err != nil {
		return err
	}
	*m = append(*m, mt)
	return nil
}

func cmdAlerts(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	usage := "alerts list|history|silence|unsilence|silences [--config NOTIFY.yaml] [--kafka BROKERS] ..."
	help := `Shows and mutes alerts, from the topics the processor and the notifier keep:
  list [--all]                         alerts pending, firing or without data (--all: every alert's latest state)
  history [--agent A] [--rule R] [--fingerprint F] [--since DURATION]
                                       transitions on fl.alerts, oldest first
  silence --match NAME=GLOB... [--for 2h] [--comment TEXT] [--by WHO]
                                       mute the alerts whose labels all match; prints its id
  unsilence ID                         end a silence
  silences [--all]                     silences not ended (--all: every one kept)`
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: fieldline-cloud %s\n\n%s\n", usage, help)
		return cli.ExitError{Code: 2}
	}
	sub, args := args[0], args[1:]
	fs := flags("alerts "+sub, usage, help, stderr)
	cfgPath := fs.String("config", "", "the notifier's config file, for its Kafka and topics")
	brokers := fs.String("kafka", "", "Kafka bootstrap brokers, comma-separated")
	all := fs.Bool("all", false, "list: every alert; silences: every silence")
	agent := fs.String("agent", "", "history: only this agent")
	rule := fs.String("rule", "", "history: only this rule")
	fp := fs.String("fingerprint", "", "history: only this alert")
	since := fs.Duration("since", 0, "history: only the last DURATION")
	var ms matchers
	fs.Var(&ms, "match", "silence: NAME=GLOB, repeated; all must match")
	dur := fs.Duration("for", 2*time.Hour, "silence: how long")
	comment := fs.String("comment", "", "silence: why")
	by := fs.String("by", os.Getenv("USER"), "silence: who")
	if err := fs.Parse(args); err != nil {
		return err
	}
	file, err := loadNotify(*cfgPath, *brokers)
	if err != nil {
		return err
	}
	k := file.Notify.Kafka
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	switch sub {
	case "list":
		evs, err := notify.Current(ctx, k.Brokers, k.StateTopic, *all)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "FINGERPRINT\tSTATE\tRULE\tAGENT\tSENSOR\tSINCE\tVALUE\tORIGIN")
		for _, ev := range evs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%g\t%s\n", fieldline.FingerprintString(ev.Fingerprint), ev.To, ev.Rule, ev.AgentID,
				dash(ev.SensorID), stamp(ev.ActiveSinceNs), ev.Value, ev.Origin)
		}
	case "history":
		f := notify.HistoryFilter{Agent: *agent, Rule: *rule, Fingerprint: *fp}
		if *since > 0 {
			f.Since = time.Now().Add(-*since)
		}
		evs, err := notify.History(ctx, k.Brokers, k.AlertsTopic, f)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "TIME\tFINGERPRINT\tSEQ\tTRANSITION\tRULE\tAGENT\tSENSOR\tVALUE")
		for _, ev := range evs {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s→%s\t%s\t%s\t%s\t%g\n", stamp(ev.TimeNs), fieldline.FingerprintString(ev.Fingerprint), ev.Seq,
				ev.From, ev.To, ev.Rule, ev.AgentID, dash(ev.SensorID), ev.Value)
		}
	case "silence":
		if len(ms) == 0 {
			return fmt.Errorf("alerts silence: at least one --match NAME=GLOB")
		}
		now := time.Now()
		s := notify.Silence{ID: notify.NewSilenceID(), Matchers: ms, StartsAt: now, EndsAt: now.Add(*dur), CreatedBy: *by, Comment: *comment}
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := notify.PutSilence(ctx, cl, k.SilencesTopic, s); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\tuntil %s\n", s.ID, s.EndsAt.UTC().Format(time.RFC3339))
	case "unsilence":
		if fs.NArg() != 1 {
			return fmt.Errorf("alerts unsilence: give the silence's id")
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
		if err != nil {
			return err
		}
		defer cl.Close()
		return notify.DeleteSilence(ctx, cl, k.SilencesTopic, fs.Arg(0))
	case "silences":
		ss, err := notify.Silences(ctx, k.Brokers, k.SilencesTopic, time.Now(), *all)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "ID\tMATCHERS\tSTARTS\tENDS\tBY\tCOMMENT")
		for _, s := range ss {
			fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Matchers, s.StartsAt.UTC().Format(time.RFC3339), s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, s.Comment)
		}
	default:
		fmt.Fprintf(stderr, "alerts: unknown command %q\n\n%s\n", sub, help)
		return cli.ExitError{Code: 2}
	}
	return nil
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

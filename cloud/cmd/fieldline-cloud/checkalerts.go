package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/alerting"
	"github.com/fieldline/fieldline/internal/cli"
	"github.com/fieldline/fieldline/internal/confkit"
)

func newCheckAlertsCmd() *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "check-alerts [--config PROCESSOR.yaml] FILE | check-alerts sample",
		Short: "validate an alert rules file as the processor will (every problem, with its line)",
		Long: `Checks an alert rules file as the processor will, listing every problem with
its line. With --config, a rule's window must be one of that processor's
window sizes (without it, of the default 10s, 1m, 1h). Exits 1 when there is
any problem. 'check-alerts sample' prints a commented example.`,
		Example: `  fieldline-cloud check-alerts --config /etc/fieldline/process.yaml /etc/fieldline/alerts.yaml
  fieldline-cloud check-alerts sample > alerts.yaml`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckAlerts(cmd.OutOrStdout(), config, args[0])
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the processor's config file, for its window sizes")
	return cmd
}

func runCheckAlerts(stdout io.Writer, cfgPath, path string) error {
	if path == "sample" {
		_, err := stdout.Write(alerting.SampleRules)
		return err
	}
	var file processFile
	if cfgPath != "" {
		if err := confkit.Load(cfgPath, &file); err != nil {
			return err
		}
	}
	file.Processor.SetDefaults()
	var windows []time.Duration
	for _, w := range file.Processor.Window.Windows {
		windows = append(windows, w.Size)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rs, err := alerting.Load(path, data, alerting.Options{Windows: windows})
	var ce *confkit.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", path, p)
		}
		return cli.ExitError{Code: 1}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d rules)\n", path, rs.Len())
	return nil
}

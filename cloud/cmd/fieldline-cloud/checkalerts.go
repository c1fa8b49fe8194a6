package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fieldline/fieldline/cloud/alerting"
	"github.com/fieldline/fieldline/internal/cli"
	"github.com/fieldline/fieldline/internal/confkit"
)

func cmdCheckAlerts(_ context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "sample" {
		_, err := stdout.Write(alerting.SampleRules)
		return err
	}
	fs := flags("check-alerts", "check-alerts [--config PROCESSOR.yaml] FILE | check-alerts sample",
		`Checks an alert rules file as the processor will, listing every problem with
its line. With --config, a rule's window must be one of that processor's
window sizes (without it, of the default 10s, 1m, 1h). Exits 1 when there is
any problem. 'check-alerts sample' prints a commented example.`, stderr)
	cfgPath := fs.String("config", "", "the processor's config file, for its window sizes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.ExitError{Code: 2}
	}
	var file processFile
	if *cfgPath != "" {
		if err := confkit.Load(*cfgPath, &file); err != nil {
			return err
		}
	}
	file.Processor.SetDefaults()
	var windows []time.Duration
	for _, w := range file.Processor.Window.Windows {
		windows = append(windows, w.Size)
	}
	path := fs.Arg(0)
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

package main

import (
	"context"
	"io"

	"github.com/fieldline/fieldline/agent"
)

func cmdSampleConfig(_ context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("sample-config", "sample-config > agent.yaml", "Prints an annotated config with every section; edit it, then run check-config.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := stdout.Write(agent.SampleConfig)
	return err
}

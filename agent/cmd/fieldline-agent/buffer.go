package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/cli"
)

func cmdBuffer(_ context.Context, stdout, stderr io.Writer, args []string) error {
	help := `Inspects the buffer file of a stopped agent (the file is locked while the
agent runs).

  stats FILE             depth, oldest unacked age, dropped, expired per lane
  dump [flags] FILE      unacked readings as JSON lines
  compact FILE NEWFILE   copy into a new compacted file and report both sizes`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stderr, "Usage: fieldline-agent buffer stats|dump|compact ...\n\n%s\n", help)
		if len(args) == 0 {
			return cli.ExitError{Code: 2}
		}
		return nil
	}
	switch args[0] {
	case "stats":
		fs := flags("buffer stats", "buffer stats FILE", "Prints the buffer's figures per lane.", stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return cli.ExitError{Code: 2}
		}
		st, err := buffer.Inspect(fs.Arg(0))
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "lane\tdepth\tbytes\toldest unacked\tnext seq\tacked seq\tdropped\texpired\n")
		for _, l := range st.Lanes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n", l.Lane, l.DepthReadings, l.DepthBytes, l.OldestUnackedAge.Round(1e6), l.NextSeq, l.AckedSeq, l.Dropped, l.Expired)
		}
		fmt.Fprintf(tw, "total\t%d\t%d\t%s\t\t\t%d\t%d\n", st.DepthReadings, st.DepthBytes, st.OldestUnackedAge.Round(1e6), st.Dropped, st.Expired)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "file size: %d bytes\n", st.FileBytes)
		return nil
	case "dump":
		fs := flags("buffer dump", "buffer dump [--lane L] [--from SEQ] [--to SEQ] [--limit N] FILE", "Prints unacked readings as JSON lines, oldest first.", stderr)
		lane := fs.String("lane", "", "only this lane: alert, event or telemetry")
		from := fs.Uint64("from", 0, "first seq")
		to := fs.Uint64("to", 0, "last seq")
		limit := fs.Int("limit", 0, "stop after this many readings")
		acked := fs.Bool("acked", false, "include readings already acked but still stored")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return cli.ExitError{Code: 2}
		}
		opts := buffer.DumpOptions{From: *from, To: *to, Limit: *limit, Acked: *acked}
		if *lane != "" {
			l, ok := map[string]fieldline.Lane{"alert": fieldline.LaneAlert, "event": fieldline.LaneEvent, "telemetry": fieldline.LaneTelemetry}[strings.ToLower(*lane)]
			if !ok {
				return fmt.Errorf("unknown lane %q (want alert, event or telemetry)", *lane)
			}
			opts.Lanes = []fieldline.Lane{l}
		}
		return buffer.Dump(fs.Arg(0), stdout, opts)
	case "compact":
		fs := flags("buffer compact", "buffer compact FILE NEWFILE", "Copies the buffer into a new, compacted file; move it into place yourself.", stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 2 {
			fs.Usage()
			return cli.ExitError{Code: 2}
		}
		res, err := buffer.Compact(fs.Arg(0), fs.Arg(1))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d bytes → %s: %d bytes\n", fs.Arg(0), res.SrcBytes, fs.Arg(1), res.DstBytes)
		return nil
	}
	return fmt.Errorf("unknown buffer command %q (want stats, dump or compact)", args[0])
}

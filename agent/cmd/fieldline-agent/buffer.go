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

  stats FILE             depth, oldest unacked age, dropped, expired, lost per lane,
                         and whether the file's pages are sound
  check FILE             every page and segment: what is damaged, and per lane which
                         unacked readings can be read back and which are lost
                         (exit status 1 when the file is damaged)
  dump [flags] FILE      unacked readings as JSON lines, the records of fl.readings
  compact FILE NEWFILE   copy into a new compacted file and report both sizes

The agent rebuilds a damaged file when it starts (or meets the damage while
it runs): what can be read goes into a fresh file, the damaged one is kept
as FILE.corrupt-<time>, and what is lost is counted per lane in its status.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stderr, "Usage: fieldline-agent buffer stats|check|dump|compact ...\n\n%s\n", help)
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
		fmt.Fprintf(tw, "lane\tdepth\tbytes\toldest unacked\tnext seq\tacked seq\tdropped\texpired\tlost\n")
		for _, l := range st.Lanes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", l.Lane, l.DepthReadings, l.DepthBytes, l.OldestUnackedAge.Round(1e6), l.NextSeq, l.AckedSeq, l.Dropped, l.Expired, l.Lost)
		}
		fmt.Fprintf(tw, "total\t%d\t%d\t%s\t\t\t%d\t%d\t%d\n", st.DepthReadings, st.DepthBytes, st.OldestUnackedAge.Round(1e6), st.Dropped, st.Expired, st.Lost)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "file size: %d bytes\n", st.FileBytes)
		if h := st.Held; h != nil && h.Problem == "" {
			fmt.Fprintf(stdout, "held: the last run stopped uncleanly; its journal holds %d readings (%d segments) the file does not show: the next start stores them\n", h.Readings, h.Segments)
		} else if h != nil {
			fmt.Fprintf(stdout, "held: the last run stopped uncleanly and its journal cannot be used (%s): the next start jumps the seqs, and what it held the cloud had not acknowledged is lost\n", h.Problem)
		}
		for _, l := range st.Lanes {
			if len(l.LostRanges) > 0 {
				fmt.Fprintf(stdout, "lost seqs of %s: %s\n", l.Lane, ranges(l.LostRanges))
			}
		}
		if len(st.Damage) == 0 {
			fmt.Fprintf(stdout, "pages: sound\n")
			return nil
		}
		fmt.Fprintf(stdout, "pages: DAMAGED (%d problems; `fieldline-agent buffer check %s` says what is lost)\n", len(st.Damage), fs.Arg(0))
		for _, p := range st.Damage[:min(len(st.Damage), 5)] {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return nil
	case "check":
		fs := flags("buffer check", "buffer check FILE", "Checks every page and segment of the file; exit status 1 when it is damaged.", stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return cli.ExitError{Code: 2}
		}
		rep, err := buffer.Check(fs.Arg(0))
		if err != nil {
			return err
		}
		return printCheck(stdout, fs.Arg(0), rep)
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
	return fmt.Errorf("unknown buffer command %q (want stats, check, dump or compact)", args[0])
}

// printCheck writes what buffer.Check found and returns ExitError{1} when
// the file is damaged.
func printCheck(w io.Writer, path string, rep buffer.CheckReport) error {
	if rep.Sound() {
		fmt.Fprintf(w, "%s: sound (%d pages)\n", path, rep.Pages)
	} else {
		fmt.Fprintf(w, "%s: DAMAGED (%d pages, %d problems)\n", path, rep.Pages, len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "lane\treadable\tlost\tlost seqs\n")
	for _, l := range rep.Lanes {
		lost := ranges(l.LostRanges)
		if !l.Exact && l.Lost == 0 {
			lost = "(where the lane ends is not known)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", l.Lane, l.Readable, l.Lost, lost)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !rep.Sound() {
		fmt.Fprintf(w, "The agent rebuilds the file when it starts: the readable readings are kept, the lost ones counted in its status.\n")
		return cli.ExitError{Code: 1}
	}
	return nil
}

// ranges writes seq ranges as "a-b c-d".
func ranges(rs []fieldline.SeqRange) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d-%d", r.First, r.Last)
	}
	return b.String()
}

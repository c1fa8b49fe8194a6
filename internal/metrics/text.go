package metrics

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// ContentType is the media type of the text exposition format WriteText
// writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes fams in the Prometheus text exposition format (0.0.4):
// # HELP and # TYPE, then the series; families without series are left
// out.
func WriteText(w io.Writer, fams []Family) error {
	bw := bufio.NewWriter(w)
	var b []byte
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		b = append(b[:0], "# HELP "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.Help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Type.String()...)
		b = append(b, '\n')
		for _, s := range f.Samples {
			switch f.Type {
			case HistogramType:
				for _, bk := range s.Buckets {
					b = appendSeries(b, f.Name, "_bucket", s.Labels, "le", bk.Upper)
					b = appendUint(b, bk.Count)
				}
				b = appendSeries(b, f.Name, "_bucket", s.Labels, "le", math.Inf(1))
				b = appendUint(b, s.Count)
				b = appendSeries(b, f.Name, "_sum", s.Labels, "", 0)
				b = appendFloat(b, s.Sum)
				b = append(b, '\n')
				b = appendSeries(b, f.Name, "_count", s.Labels, "", 0)
				b = appendUint(b, s.Count)
			case SummaryType:
				for _, q := range s.Quantiles {
					b = appendSeries(b, f.Name, "", s.Labels, "quantile", q.Quantile)
					b = appendFloat(b, q.Value)
					b = append(b, '\n')
				}
				b = appendSeries(b, f.Name, "_sum", s.Labels, "", 0)
				b = appendFloat(b, s.Sum)
				b = append(b, '\n')
				b = appendSeries(b, f.Name, "_count", s.Labels, "", 0)
				b = appendUint(b, s.Count)
			default:
				b = appendSeries(b, f.Name, "", s.Labels, "", 0)
				b = appendFloat(b, s.Value)
				b = append(b, '\n')
			}
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendSeries appends name+suffix, the labels (and extra=extraValue when
// extra is set) and the space before the value.
func appendSeries(b []byte, name, suffix string, labels []Label, extra string, extraValue float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) > 0 || extra != "" {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, `="`...)
			b = appendEscaped(b, l.Value, true)
			b = append(b, '"')
		}
		if extra != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, extra...)
			b = append(b, `="`...)
			b = appendFloat(b, extraValue)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ' ')
}

func appendUint(b []byte, v uint64) []byte {
	return append(strconv.AppendUint(b, v, 10), '\n')
}

// appendFloat writes v as client_golang does: the shortest form that reads
// back the same, and +Inf, -Inf, NaN.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a help text (\\ and \n) or a label value (\\, \"
// and \n).
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

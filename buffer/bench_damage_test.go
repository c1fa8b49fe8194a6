package buffer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fieldline/fieldline"
)

// benchSmallSegs is a file of 2 M readings committed one tick (500
// readings) at a time, as an agent with 500 sensors at 1 Hz writes it: a
// segment of a few KiB per commit, so the tree has a leaf page for every
// few segments, the worst case of the check at Open.
var benchSmallSegs = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fieldline-buffer-bench")
	if err != nil {
		return "", err
	}
	benchDirs = append(benchDirs, dir)
	path := filepath.Join(dir, "small.db")
	b, err := Open(path, &Options{AgentID: "gw-bench", FlushInterval: 0, MaxBytes: 0, NoSync: true})
	if err != nil {
		return "", err
	}
	ticks := benchTicks()
	for i := range 2_000_000 / benchSensors {
		if _, _, err := b.AppendSync(context.Background(), fieldline.LaneTelemetry, ticks[i%len(ticks)]); err != nil {
			return "", err
		}
	}
	return path, b.Close()
})

// bench256M is a file at the default cap, 256 MiB, of the shape that
// makes the check at Open read the most: small segments (a commit of two
// readings with 1 KiB of text each), so that the tree's leaves are most of
// the file. Appended with NoSync.
var bench256M = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fieldline-buffer-bench")
	if err != nil {
		return "", err
	}
	benchDirs = append(benchDirs, dir)
	path := filepath.Join(dir, "256m.db")
	b, err := Open(path, &Options{AgentID: "gw-bench", FlushInterval: 0, MaxBytes: 0, NoSync: true})
	if err != nil {
		return "", err
	}
	text := make([]byte, 1024)
	for i := 0; ; i++ {
		if i%1000 == 0 {
			if fi, err := os.Stat(path); err == nil && fi.Size() >= DefaultMaxBytes {
				break
			}
		}
		for j := range text {
			text[j] = byte('a' + (i*7+j*13+j*j)%26)
		}
		rs := []fieldline.Reading{
			{TimeNs: int64(i) * 1e9, SensorID: "s", Kind: fieldline.KindEvent, Text: string(text)},
			{TimeNs: int64(i)*1e9 + 1, SensorID: "t", Kind: fieldline.KindEvent, Text: string(text[1:])},
		}
		if _, _, err := b.AppendSync(context.Background(), fieldline.LaneTelemetry, rs); err != nil {
			return "", err
		}
	}
	return path, b.Close()
})

// BenchmarkCheckPages is the check Open runs on every start (checkPages),
// on a file of large segments (10 M readings, committed in large groups),
// one of small ones (2 M readings, one commit per second's tick) and a
// 256 MiB file (the default cap) of two-reading segments, whose index is a
// quarter of the file. "open" is the walk at Open (the root pages of the
// segment and index buckets), "deep" the walk of every page that Check
// (`fieldline-agent buffer check`) makes. It reports the time and the
// pages read; the page cache is warm (a restart right after a stop), so on
// a cold SD card add the pages read times 4 KiB at the card's speed.
func BenchmarkCheckPages(b *testing.B) {
	for _, f := range []struct {
		name string
		file func() (string, error)
	}{{"large-segments", bench10M}, {"small-segments", benchSmallSegs}, {"256MiB-tiny-segments", bench256M}} {
		for _, deep := range []bool{false, true} {
			name := f.name + "/open"
			if deep {
				name = f.name + "/deep"
			}
			b.Run(name, func(b *testing.B) {
				path, err := f.file()
				if err != nil {
					b.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				var pages int
				b.ResetTimer()
				for range b.N {
					r, err := openRaw(path)
					if err != nil {
						b.Fatal(err)
					}
					m, _ := r.meta()
					w := newTreeWalk(r, m)
					if !deep {
						w.bulk, w.budget = bucketIsBulk, openCheckPages // as checkPages at Open
					}
					w.run(m)
					r.close()
					if len(w.problems) > 0 {
						b.Fatal(w.problems)
					}
					pages = r.reads
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms")
				b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
				b.ReportMetric(float64(pages), "pages-read")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkRebuild opens a copy of a file with its root page zeroed: the
// check at Open finds it, and the file is rebuilt from what the other
// pages hold (every page scanned, every segment found outside the tree
// copied by its header): a 24 MiB file of 2 M readings, and the 256 MiB
// file of tiny segments.
func BenchmarkRebuild(b *testing.B) {
	for _, f := range []struct {
		name string
		file func() (string, error)
	}{{"small-segments", benchSmallSegs}, {"256MiB-tiny-segments", bench256M}} {
		b.Run(f.name, func(b *testing.B) {
			src, err := f.file()
			if err != nil {
				b.Fatal(err)
			}
			r, err := openRaw(src)
			if err != nil {
				b.Fatal(err)
			}
			m, _ := r.meta()
			r.close()
			before, err := Inspect(src)
			if err != nil {
				b.Fatal(err)
			}
			fi, _ := os.Stat(src)
			dir := b.TempDir()
			var kept int64
			for range b.N {
				b.StopTimer()
				path := filepath.Join(dir, "b.db")
				_ = os.RemoveAll(dir)
				_ = os.MkdirAll(dir, 0o700)
				copyFile(b, src, path)
				copyFile(b, src+".seq", path+".seq")
				damagePage(b, path, int64(m.root), false, 0)
				b.StartTimer()
				buf, err := Open(path, &Options{AgentID: "gw-bench", MaxBytes: 0})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				kept = buf.Stats().DepthReadings
				_ = buf.Close()
			}
			if kept != before.DepthReadings {
				b.Fatalf("%d readings salvaged of %d", kept, before.DepthReadings)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkShrink opens a copy of a file with max_bytes at a quarter of
// its size: the oldest readings over the cap's budget are dropped and the
// file is compacted under the cap.
func BenchmarkShrink(b *testing.B) {
	for _, f := range []struct {
		name string
		file func() (string, error)
	}{{"large-segments", bench10M}, {"256MiB-tiny-segments", bench256M}} {
		b.Run(f.name, func(b *testing.B) {
			src, err := f.file()
			if err != nil {
				b.Fatal(err)
			}
			fi, _ := os.Stat(src)
			capB := max(fi.Size()/4, minMaxBytes)
			dir := b.TempDir()
			var after int64
			for range b.N {
				b.StopTimer()
				path := filepath.Join(dir, "b.db")
				_ = os.RemoveAll(dir)
				_ = os.MkdirAll(dir, 0o700)
				copyFile(b, src, path)
				copyFile(b, src+".seq", path+".seq")
				b.StartTimer()
				buf, err := Open(path, &Options{AgentID: "gw-bench", MaxBytes: capB})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = buf.Close()
				st, _ := os.Stat(path)
				after = st.Size()
			}
			if after > capB {
				b.Fatalf("file of %d bytes after shrinking to %d", after, capB)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-before")
			b.ReportMetric(float64(after)/(1<<20), "MiB-after")
			b.ReportMetric(0, "ns/op")
		})
	}
}

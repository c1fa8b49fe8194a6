package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clientGolangText is what client_golang writes for reg.
func clientGolangText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func text(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, r.Gather()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTextMatchesClientGolang: the same metrics, updated the same way,
// read the same, byte for byte, as client_golang writes them: names, help
// texts, types, label order and escaping, numbers, histogram buckets.
func TestTextMatchesClientGolang(t *testing.T) {
	ours, theirs := NewRegistry(), prometheus.NewRegistry()
	help := "Help with a \\ backslash and a\nnewline."

	c := NewCounter(Opts{Name: "t_c_total", Help: help})
	pc := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_c_total", Help: help})
	cv := NewCounterVec(Opts{Name: "t_cv_total", Help: "By source and code."}, []string{"source", "code"})
	pcv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_cv_total", Help: "By source and code."}, []string{"source", "code"})
	g := NewGauge(Opts{Name: "t_g", Help: "A gauge."})
	pg := prometheus.NewGauge(prometheus.GaugeOpts{Name: "t_g", Help: "A gauge."})
	gv := NewGaugeVec(Opts{Name: "t_gv", Help: "A gauge by lane."}, []string{"lane"})
	pgv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_gv", Help: "A gauge by lane."}, []string{"lane"})
	buckets := ExponentialBuckets(0.0005, 2, 14)
	h := NewHistogram(HistogramOpts{Name: "t_h_seconds", Help: "A histogram.", Buckets: buckets})
	ph := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t_h_seconds", Help: "A histogram.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	hb := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	hv := NewHistogramVec(HistogramOpts{Name: "t_hv_seconds", Help: "Histograms by source.", Buckets: hb}, []string{"source"})
	phv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "t_hv_seconds", Help: "Histograms by source.", Buckets: hb}, []string{"source"})
	gf := NewGaugeFunc(Opts{Name: "t_gf", Help: "A function."}, func() float64 { return 1 })
	pgf := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "t_gf", Help: "A function."}, func() float64 { return 1 })
	empty := NewCounterVec(Opts{Name: "t_empty_total", Help: "No series."}, []string{"x"})
	pempty := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_empty_total", Help: "No series."}, []string{"x"})
	ours.MustRegister(c, cv, g, gv, h, hv, gf, empty)
	theirs.MustRegister(pc, pcv, pg, pgv, ph, phv, pgf, pempty)

	c.Inc()
	pc.Inc()
	c.Add(0.25)
	pc.Add(0.25)
	for _, lv := range [][]string{{"modbus/meter", "timeout"}, {"a\"b\\c\nd", "io"}, {"modbus/meter", "timeout"}, {"", "é"}} {
		cv.WithLabelValues(lv...).Add(3)
		pcv.WithLabelValues(lv...).Add(3)
	}
	cv.WithLabelValues("zero", "zero")
	pcv.WithLabelValues("zero", "zero")
	g.Set(-2.5e-7)
	pg.Set(-2.5e-7)
	g.Add(1e21)
	pg.Add(1e21)
	for _, lane := range []string{"telemetry", "alert", "event"} {
		gv.WithLabelValues(lane).Set(math.Inf(1))
		pgv.WithLabelValues(lane).Set(math.Inf(1))
	}
	gv.WithLabelValues("event").Dec()
	pgv.WithLabelValues("event").Dec()
	gv.WithLabelValues("nan").Set(math.NaN())
	pgv.WithLabelValues("nan").Set(math.NaN())
	var sum float64
	for _, v := range []float64{0, 0.0005, 0.0007, 0.003, 1, 4.096, 5, 100, -1} {
		sum += v
		h.Observe(v)
		ph.Observe(v)
		hv.WithLabelValues("m").Observe(v / 10)
		phv.WithLabelValues("m").Observe(v / 10)
	}
	hv.WithLabelValues("idle")
	phv.WithLabelValues("idle")
	cv.WithLabelValues("gone", "x").Inc()
	pcv.WithLabelValues("gone", "x").Inc()
	if !cv.DeleteLabelValues("gone", "x") || !pcv.DeleteLabelValues("gone", "x") || cv.DeleteLabelValues("gone", "x") {
		t.Fatal("DeleteLabelValues")
	}

	got, want := text(t, ours), clientGolangText(t, theirs)
	if got != want {
		t.Fatalf("text differs from client_golang's\n--- got\n%s\n--- want\n%s", got, want)
	}
	if c.Value() != 1.25 || cv.WithLabelValues("modbus/meter", "timeout").Value() != 6 || h.Count() != 9 || h.Sum() != sum {
		t.Errorf("values: counter %v, vec %v, histogram %d %v", c.Value(), cv.WithLabelValues("modbus/meter", "timeout").Value(), h.Count(), h.Sum())
	}
}

// TestRuntimeFamiliesMatchClientGolang: the Go and process collectors have
// every family client_golang's have, with the same types, and the whole
// output parses as Prometheus text.
func TestRuntimeFamiliesMatchClientGolang(t *testing.T) {
	theirs := prometheus.NewRegistry()
	theirs.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	want := map[string]dto.MetricType{}
	pf, err := theirs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pf {
		want[f.GetName()] = f.GetType()
	}
	ours := NewRegistry()
	ours.MustRegister(GoCollector{}, ProcessCollector{})
	out := text(t, ours)
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("our text does not parse: %v\n%s", err, out)
	}
	got := map[string]dto.MetricType{}
	for name, f := range parsed {
		got[name] = f.GetType()
	}
	if !maps.Equal(got, want) {
		t.Errorf("families differ from client_golang's:\n got %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		for n, typ := range want {
			if got[n] != typ {
				t.Errorf("%s: %v, want %v", n, got[n], typ)
			}
		}
	}
	if v := parsed["go_goroutines"].GetMetric()[0].GetGauge().GetValue(); v < 1 {
		t.Errorf("go_goroutines %v", v)
	}
	if v := parsed["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(); v < 1<<20 {
		t.Errorf("process_resident_memory_bytes %v", v)
	}
	if v := parsed["process_open_fds"].GetMetric()[0].GetGauge().GetValue(); v < 3 {
		t.Errorf("process_open_fds %v", v)
	}
}

// TestHandler: /metrics is text/plain 0.0.4, gzipped when asked.
func TestHandler(t *testing.T) {
	r := NewRegistry()
	c := NewCounter(Opts{Name: "x_total", Help: "X."})
	r.MustRegister(c)
	c.Add(7)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	for _, enc := range []string{"", "gzip"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := srv.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body := io.Reader(resp.Body)
		if enc == "gzip" {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("not gzipped: %v", resp.Header)
			}
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil || string(b) != "# HELP x_total X.\n# TYPE x_total counter\nx_total 7\n" || resp.Header.Get("Content-Type") != ContentType {
			t.Fatalf("%q: %q %v %v", enc, b, err, resp.Header)
		}
	}
}

// TestConcurrentUpdates: updates from many goroutines while gathering all
// count (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	r := NewRegistry()
	cv := NewCounterVec(Opts{Name: "c_total", Help: "C."}, []string{"k"})
	g := NewGauge(Opts{Name: "g", Help: "G."})
	h := NewHistogram(HistogramOpts{Name: "h", Help: "H.", Buckets: []float64{1, 2}})
	r.MustRegister(cv, g, h)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				cv.WithLabelValues(string(rune('a' + j%3))).Inc()
				g.Add(1)
				h.Observe(float64(i % 3))
				if j%100 == 0 {
					_ = WriteText(io.Discard, r.Gather())
				}
			}
		})
	}
	wg.Wait()
	sum := cv.WithLabelValues("a").Value() + cv.WithLabelValues("b").Value() + cv.WithLabelValues("c").Value()
	if sum != 8000 || g.Value() != 8000 || h.Count() != 8000 {
		t.Fatalf("counter %v, gauge %v, histogram %d; want 8000 each", sum, g.Value(), h.Count())
	}
}

// TestMisuse: a name registered twice, the wrong number of label values and
// a counter going down panic, as programming errors.
func TestMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	r := NewRegistry()
	r.MustRegister(NewCounter(Opts{Name: "a_total"}))
	mustPanic("registering a_total twice", func() { r.MustRegister(NewCounterVec(Opts{Name: "a_total"}, []string{"x"})) })
	v := NewGaugeVec(Opts{Name: "v"}, []string{"a", "b"})
	mustPanic("one label value for two names", func() { v.WithLabelValues("x") })
	mustPanic("a negative Add", func() { NewCounter(Opts{Name: "c"}).Add(-1) })
	mustPanic("buckets not increasing", func() { NewHistogram(HistogramOpts{Name: "h", Buckets: []float64{1, 1}}) })
	if f, ok := r.Find("a_total"); !ok || f.Type != CounterType || f.Samples[0].Value != 0 {
		t.Errorf("Find: %+v %v", f, ok)
	}
}

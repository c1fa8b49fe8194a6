package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// chromium is Debian's browser, which the browser test drives.
const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium for the test, with no request
// leaving the machine (no background networking, no component updates).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		testkit.Missing(t, "chromium not installed (Debian package chromium): the browser test needs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1500, 1200),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// page is a tab on a dashboard page.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func (p *page) eval(js string) float64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// until polls js (a number) until ok holds.
func (p *page) until(within time.Duration, what, js string, ok func(float64) bool) float64 {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := p.eval(js)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			p.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
			p.t.Fatalf("%s: not within %s (last %v)", what, within, v)
		}
		time.Sleep(200 * time.Millisecond) // polling the page
	}
}

// shot saves a screenshot of the whole page as an artifact.
func (p *page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(p.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Error(err)
	}
	p.t.Logf("screenshot %s", path)
}

// TestBrowserSeesTheDemo opens the dashboard of a running demo in headless
// Chromium and sees what a person would: three agents online, a chart
// whose last point advances, the rule bundle the demo pushed applied on
// every agent, the boiler's temperature spike on its chart, the alert it
// fires and its resolution.
// Screenshots of each step are saved in the test's artifact folder (go
// test -artifacts -outputdir DIR keeps them; make test does).
func TestBrowserSeesTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries, runs the demo and a browser")
	}
	ctx := browser(t)
	bin := buildBinaries(t)
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.SyncBuffer
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(dctx, Options{Bin: bin, Dir: t.TempDir(), Out: &out, Ready: func(a Addrs) { ready <- a },
			AnomalyAfter: 25 * time.Second, AnomalyFor: 10 * time.Second, AnomalyEvery: 2 * time.Minute})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("demo not ready\n%s", out.String())
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.Contains(first, addrs.Dashboard) {
		t.Errorf("the demo's first line %q does not give the dashboard's address %s", first, addrs.Dashboard)
	}
	dir := t.ArtifactDir()
	t.Logf("screenshots in %s", dir)
	p := &page{t: t, ctx: ctx, dir: dir}
	if _, err := chromedp.Run(ctx, chromedp.Navigate(addrs.Dashboard)); err != nil {
		t.Fatal(err)
	}

	p.until(60*time.Second, "three agents online", `document.querySelectorAll('#agents tbody tr[data-online="true"]').length`, func(v float64) bool { return v == 3 })
	// The bundle the demo pushed to its fleet, applied on every agent.
	p.until(60*time.Second, "the demo's rule bundle applied on the three agents", `document.querySelectorAll('#agents tbody td[data-rules-version="demo-1"][data-rules-revision="1"]').length`,
		func(v float64) bool { return v == 3 })
	p.until(30*time.Second, "GPIO, MQTT and Modbus sensors", `['demo-001/boiler.temp','demo-002/plant.boiler.temp','demo-003/pumphouse.door.open'].filter(k => document.querySelector('[data-sensor="'+k+'"]')).length`,
		func(v float64) bool { return v == 3 })
	const lastT = `Number(document.querySelector('[data-sensor="demo-001/boiler.temp"]').getAttribute('data-last-t'))`
	t1 := p.until(30*time.Second, "a point on the boiler's chart", lastT, func(v float64) bool { return v > 0 })
	p.shot("1-fleet")
	p.until(30*time.Second, "the boiler's chart's last point advancing", lastT, func(v float64) bool { return v > t1 })

	// The spike: 30 °C over about 21.5 °C.
	p.until(90*time.Second, "the boiler's temperature spike on the page",
		`Math.max(...window.fieldline.sensors.get('demo-001/boiler.temp').raw.map(p => p[1]))`, func(v float64) bool { return v > 40 })
	p.shot("2-spike")
	// The demo's alert rule catches the spike: firing on the page, then,
	// when the spike is over, resolved.
	const firing = `document.querySelectorAll('#alerts-active [data-rule="boiler-overheat"][data-agent="demo-001"][data-to="firing"]').length`
	p.until(60*time.Second, "boiler-overheat firing", firing, func(v float64) bool { return v == 1 })
	if n := p.eval(`Number(document.getElementById('stat-alerts').textContent)`); n < 1 {
		t.Errorf("the header counts %v alerts firing", n)
	}
	p.shot("3-firing")
	p.until(60*time.Second, "boiler-overheat resolved", `document.querySelectorAll('#alerts-history tr[data-rule="boiler-overheat"][data-to="resolved"]').length`, func(v float64) bool { return v >= 1 })
	if n := p.eval(firing); n != 0 {
		t.Errorf("boiler-overheat still firing on the page after it resolved")
	}
	p.shot("4-resolved")

	// The page of a binary built with Go alone.
	if _, err := chromedp.Run(ctx, chromedp.Navigate(addrs.Dashboard+"basic/")); err != nil {
		t.Fatal(err)
	}
	p.until(30*time.Second, "three agents online on the basic page", `document.querySelectorAll('#agents tbody tr[data-online="true"]').length`, func(v float64) bool { return v == 3 })
	p.until(30*time.Second, "sparklines on the basic page", `document.querySelectorAll('svg.spark path.raw[d^="M"]').length`, func(v float64) bool { return v >= 10 })
	if n := p.eval(`document.getElementById('notice').textContent.includes('make dashboard-assets') ? 1 : 0`); n != 1 {
		t.Error("the basic page does not say how to get the full charts")
	}
	p.shot("5-basic")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

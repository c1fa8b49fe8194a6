package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the page: app/ (the plain-JavaScript page with hand-drawn
// sparklines, committed) and dist/ (the bundle with uPlot charts that
// `make dashboard-assets` builds; only its README is committed).
//
//go:embed web/app all:web/dist
var web embed.FS

// FullCharts reports whether this binary carries the chart bundle.
func FullCharts() bool {
	_, err := fs.Stat(web, "web/dist/index.html")
	return err == nil
}

// webHandler serves the bundle at / when this binary has it, else the
// basic page; /basic/ is always the basic page.
func (d *Dashboard) webHandler() http.Handler {
	app, _ := fs.Sub(web, "web/app")
	root := app
	if FullCharts() {
		root, _ = fs.Sub(web, "web/dist")
	}
	mux := http.NewServeMux()
	mux.Handle("/basic/", http.StripPrefix("/basic/", http.FileServerFS(app)))
	mux.Handle("/", http.FileServerFS(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		// Everything the page loads comes from here: no CDN, no web font.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
		mux.ServeHTTP(w, r)
	})
}

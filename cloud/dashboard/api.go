package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the page, the JSON API, the live stream, /metrics and
// /healthz.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", d.webHandler())
	mux.HandleFunc("GET /api/agents", d.serveAgents)
	mux.HandleFunc("GET /api/sensors", d.serveSensors)
	mux.HandleFunc("GET /api/sensors/{agent}/{sensor}/series", d.serveSeries)
	mux.HandleFunc("GET /api/alerts", d.serveAlerts)
	mux.HandleFunc("GET /api/live", d.serveLive)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Healthy() {
			http.Error(w, "not connected to nats", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if d.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func (d *Dashboard) serveAgents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Now    int64       `json:"now"`
		Agents []AgentView `json:"agents"`
	}{d.now().UnixMilli(), d.store.agentList()})
}

func (d *Dashboard) serveSensors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		Sensors []SensorView `json:"sensors"`
	}{nonNil(d.store.sensorList(r.URL.Query().Get("agent")))})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (d *Dashboard) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, d.store.alertsView())
}

// serveSeries answers a sensor's raw readings and aggregates:
// ?from=&to= (Unix ms, RFC 3339, or a duration before now such as 15m;
// default everything kept), &window= (a window length such as 10s;
// default every one), &kind=raw|aggregates (default both), &limit=N (the
// newest N of each; default all).
func (d *Dashboard) serveSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := d.now()
	from, err := parseTime(q.Get("from"), now, 0)
	if err != nil {
		http.Error(w, "from: "+err.Error(), http.StatusBadRequest)
		return
	}
	to, err := parseTime(q.Get("to"), now, 1<<62)
	if err != nil {
		http.Error(w, "to: "+err.Error(), http.StatusBadRequest)
		return
	}
	var window time.Duration
	if s := q.Get("window"); s != "" {
		if window, err = time.ParseDuration(s); err != nil || window <= 0 {
			http.Error(w, fmt.Sprintf("window: %v: want a duration such as 10s", ErrBadRange), http.StatusBadRequest)
			return
		}
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			http.Error(w, fmt.Sprintf("limit: %v: want a count", ErrBadRange), http.StatusBadRequest)
			return
		}
	}
	raw, aggs := true, true
	switch q.Get("kind") {
	case "", "both":
	case "raw":
		aggs = false
	case "aggregates":
		raw = false
	default:
		http.Error(w, fmt.Sprintf("kind: %v: want raw, aggregates or both", ErrBadRange), http.StatusBadRequest)
		return
	}
	v, ok := d.store.series(r.PathValue("agent"), r.PathValue("sensor"), from, to, window.Nanoseconds(), limit, raw, aggs)
	if !ok {
		http.Error(w, fmt.Sprintf("no sensor %q of agent %q", r.PathValue("sensor"), r.PathValue("agent")), http.StatusNotFound)
		return
	}
	writeJSON(w, v)
}

// parseTime reads a series bound as Unix ns: Unix ms, RFC 3339, or a
// duration before now ("15m"); empty is def.
func parseTime(s string, now time.Time, def int64) (int64, error) {
	switch {
	case s == "":
		return def, nil
	case strings.ContainsAny(s, "TZ:"):
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrBadRange, err)
		}
		return t.UnixNano(), nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v * 1e6, nil
	}
	dur, err := time.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, fmt.Errorf("%w: %q is neither Unix ms, RFC 3339 nor a duration", ErrBadRange, s)
	}
	return now.Add(-dur).UnixNano(), nil
}

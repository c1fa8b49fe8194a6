package metrics

import (
	"compress/gzip"
	"net/http"
	"strings"
)

// Handler serves r's families in the text format, gzipped when the client
// accepts it (Prometheus does).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fams := r.Gather()
		w.Header().Set("Content-Type", ContentType)
		if acceptsGzip(req.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			_ = WriteText(gz, fams) // an error is the client gone
			_ = gz.Close()
			return
		}
		_ = WriteText(w, fams)
	})
}

func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

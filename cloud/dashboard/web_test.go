package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestPageServed: the page, its scripts and styles come from the binary,
// at / and at /basic/, with a policy that allows nothing from elsewhere.
func TestPageServed(t *testing.T) {
	d, err := New(Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	for _, path := range []string{"/", "/main.js", "/style.css", "/basic/", "/basic/main.js", "/basic/core.js", "/basic/spark.js", "/basic/style.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: policy %q", path, csp)
		}
	}
}

// TestNoRequestLeavesTheMachine: no embedded file loads anything from
// another host (a CDN, a web font, an analytics script).
func TestNoRequestLeavesTheMachine(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fonts\.|import\s*\(?\s*["']https?:`)
	err := fs.WalkDir(web, "web", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web, path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads from elsewhere: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

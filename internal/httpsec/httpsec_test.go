package httpsec

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs the wrapped handler on c's listener; the handler says "ok".
func serve(t *testing.T, c Config) (url string, client *http.Client) {
	t.Helper()
	var p confkit.Problems
	c.Check(&p)
	if err := p.Err("http"); err != nil {
		t.Fatal(err)
	}
	h, err := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := c.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	jar, _ := cookiejar.New(nil)
	client = &http.Client{Jar: jar}
	if c.TLS.CertFile != "" {
		pem, _ := os.ReadFile(c.TLS.CertFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	t.Cleanup(client.CloseIdleConnections)
	return c.Scheme() + "://" + ln.Addr().String(), client
}

func get(t *testing.T, cl *http.Client, method, url, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func certFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	cert, ca := testkit.SelfSignedCA(t)
	der, _ := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	keyFile = filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca, keyFile
}

func TestTokenOverHTTPS(t *testing.T) {
	certFile, keyFile := certFiles(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("t0ken-of-42-chars\n"), 0o600)
	url, cl := serve(t, Config{TLS: tlsconf.Config{CertFile: certFile, KeyFile: keyFile}, TokenFile: tokenFile})
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	for _, tc := range []struct {
		method, path, bearer string
		want                 int
	}{
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "wrong", 401},
		{"GET", "/metrics", "t0ken-of-42-chars", 200},
		{"HEAD", "/status", "t0ken-of-42-chars", 200},
		{"POST", "/metrics", "t0ken-of-42-chars", 405},
		{"DELETE", "/api/agents", "t0ken-of-42-chars", 405},
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
	} {
		if got := get(t, cl, tc.method, url+tc.path, tc.bearer); got != tc.want {
			t.Errorf("%s %s (token %q): %d, want %d", tc.method, tc.path, tc.bearer, got, tc.want)
		}
	}
	// A browser: the token in the URL once, then the cookie.
	if got := get(t, cl, "GET", url+"/?access_token=t0ken-of-42-chars", ""); got != 200 {
		t.Fatalf("?access_token: %d", got)
	}
	if got := get(t, cl, "GET", url+"/api/agents", ""); got != 200 {
		t.Fatalf("with the cookie: %d", got)
	}
	// Plain HTTP to the HTTPS port is refused.
	if resp, err := http.Get("http" + strings.TrimPrefix(url, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served")
		}
	}
}

func TestNoTokenIsReadOnly(t *testing.T) {
	url, cl := serve(t, Config{})
	if got := get(t, cl, "GET", url+"/metrics", ""); got != 200 {
		t.Errorf("GET: %d", got)
	}
	if got := get(t, cl, "PUT", url+"/metrics", ""); got != 405 {
		t.Errorf("PUT: %d, want 405", got)
	}
}

func TestCheck(t *testing.T) {
	open := filepath.Join(t.TempDir(), "token")
	os.WriteFile(open, []byte("x"), 0o644)
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{TokenFile: open}, "token_file: " + open + " has mode 0644"},
		{Config{Token: "a", TokenFile: open}, "set either token or token_file"},
		{Config{TLS: tlsconf.Config{CAFile: "x"}}, "HTTPS needs cert_file and key_file"},
	} {
		var p confkit.Problems
		tc.c.Check(&p)
		if err := p.Err("http"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want …%s…", err, tc.want)
		}
	}
}

package httpsec

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

// Config is the security of one HTTP endpoint, inlined beside its listen
// address.
type Config struct {
	// TLS: cert_file and key_file serve HTTPS; ca_file asks clients for a
	// certificate of that CA.
	TLS tlsconf.Config `yaml:"tls"`
	// Token every request must carry (but /healthz and /readyz).
	Token confkit.Secret `yaml:"token"`
	// TokenFile holds the token instead (one line).
	TokenFile string `yaml:"token_file"`
}

// CookieName is the cookie that carries the token after ?access_token=.
const CookieName = "fl_token"

// Check lists the problems of c.
func (c *Config) Check(p *confkit.Problems) {
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			p.In("tls").Add("", "HTTPS needs cert_file and key_file")
		}
		c.TLS.Check(p.In("tls"))
	}
	switch {
	case c.Token != "" && c.TokenFile != "":
		p.Add("token_file", "set either token or token_file, not both")
	case c.TokenFile != "":
		if _, err := os.Stat(c.TokenFile); err != nil {
			p.Add("token_file", "cannot read %s: %v", c.TokenFile, errors.Unwrap(err))
		} else if err := confkit.CheckPrivate(c.TokenFile); err != nil {
			p.Add("token_file", "%v", err)
		}
	}
}

// Scheme is https when c serves TLS, else http.
func (c *Config) Scheme() string {
	if c.TLS.CertFile != "" {
		return "https"
	}
	return "http"
}

// Listen listens on addr, with TLS when cert_file is set.
func (c *Config) Listen(addr string) (net.Listener, error) {
	var tc *tls.Config
	if c.TLS.CertFile != "" {
		var err error
		if tc, err = c.TLS.Server(); err != nil {
			return nil, fmt.Errorf("https on %s: %w", addr, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for http on %s: %w", addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// Handler wraps h: read-only (GET and HEAD), and the token when one is set.
func (c *Config) Handler(h http.Handler) (http.Handler, error) {
	token := c.Token.Reveal()
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("token_file %s is empty", c.TokenFile)
		}
	}
	secure := c.TLS.CertFile != ""
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only endpoint: GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		if token == "" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			h.ServeHTTP(w, r)
			return
		}
		got, fromQuery := presented(r)
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fieldline"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		if fromQuery {
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
		}
		h.ServeHTTP(w, r)
	}), nil
}

// presented is the token a request carries: the Authorization header, the
// access_token query parameter, or the cookie.
func presented(r *http.Request) (token string, fromQuery bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
		return "", false
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, true
	}
	if ck, err := r.Cookie(CookieName); err == nil {
		return ck.Value, false
	}
	return "", false
}

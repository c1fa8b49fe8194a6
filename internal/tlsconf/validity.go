package tlsconf

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// now is the clock certificates are checked against.
var now = time.Now

// validity says why cert is not valid at t ("" when it is).
func validity(cert *x509.Certificate, t time.Time) string {
	if cert == nil {
		return ""
	}
	const day = "2006-01-02 15:04:05 MST"
	switch {
	case t.After(cert.NotAfter):
		return fmt.Sprintf("certificate %q expired on %s (valid from %s)", cert.Subject.CommonName, cert.NotAfter.UTC().Format(day), cert.NotBefore.UTC().Format(day))
	case t.Before(cert.NotBefore):
		return fmt.Sprintf("certificate %q is not valid before %s (is this machine's clock right? it says %s)", cert.Subject.CommonName, cert.NotBefore.UTC().Format(day), t.UTC().Format(day))
	}
	return ""
}

// caValidity says why no certificate of a CA file is valid at t ("" when
// one is: a bundle may hold old ones beside the current).
func caValidity(data []byte, t time.Time) string {
	var first string
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return first
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		msg := validity(c, t)
		if msg == "" {
			return ""
		}
		if first == "" {
			first = "no certificate in it is valid now: " + msg
		}
	}
}

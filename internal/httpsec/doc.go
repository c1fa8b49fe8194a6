// Package httpsec guards Fieldline's HTTP endpoints (the dashboard, every
// /metrics and /status): HTTPS with the tls keys, a bearer token, and
// read-only access.
//
// # Basics
//
//	http:
//	  listen: 0.0.0.0:9272
//	  tls: {cert_file: /etc/fieldline/metrics.pem, key_file: /etc/fieldline/metrics.key}
//	  token_file: /etc/fieldline/metrics.token
//
// Config.Listen listens, with TLS when cert_file is set (and mutual TLS
// when ca_file is set too). Config.Handler wraps a handler: only GET and
// HEAD pass (the endpoints are read-only), and with a token every request
// but the health checks (/healthz, /readyz) must carry it, as
// "Authorization: Bearer TOKEN" or, for a browser's first visit,
// ?access_token=TOKEN, which sets an HttpOnly cookie for the page's own
// requests and its WebSocket.
//
// # Caveats
//
// token is a confkit.Secret (a file that sets it must be private), and
// token_file must be private as well. A token over plain HTTP can be read
// on the path: set tls too.
package httpsec

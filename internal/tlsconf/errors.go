package tlsconf

import "errors"

// ErrConfig means a TLS config cannot make a client: a file that cannot be
// read or does not hold what its key says, a certificate without its key.
// Client's error wraps it and names each problem's key.
var ErrConfig = errors.New("invalid TLS config")

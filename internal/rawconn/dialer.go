package rawconn

import "net"

// Dialer dials with its net.Dialer and wraps what it connected (Wrap). It
// is a nats.CustomDialer. nats.go divides its connect timeout among the
// addresses a server's name resolves to when it dials itself; through a
// Dialer each address has the whole Timeout.
type Dialer struct {
	net.Dialer
}

// Dial connects to address on network.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.Dialer.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

package tail

import "errors"

var (
	// ErrOptions is a mistake in Options: no brokers, no topic, a --from or
	// --sensor that does not parse.
	ErrOptions = errors.New("tail options")
	// ErrNoTopic is a topic the brokers do not have.
	ErrNoTopic = errors.New("no such topic")
)

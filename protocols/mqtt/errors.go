package mqtt

import "errors"

// Errors of the package. They are wrapped with detail; test with errors.Is.
var (
	// ErrPayload means a message's payload could not be turned into
	// readings; the *PayloadError that wraps it says why (its Reason) and
	// where (its Path).
	ErrPayload = errors.New("malformed payload")
	// ErrConfig means the config cannot work (a broker URL that does not
	// parse, a TLS file that cannot be read).
	ErrConfig = errors.New("invalid MQTT config")
	// ErrPublish means a publish could not be made: the connection is not
	// up before ctx ends, the topic is invalid or the broker refused it.
	ErrPublish = errors.New("MQTT publish failed")
)

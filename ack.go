package fieldline

// Ack is the bridge's answer to a Batch: OK once Kafka acknowledged every
// reading of it, or why not. Lane, FirstSeq and LastSeq name the batch
// answered (zero when the bridge could not read it).
type Ack struct {
	AgentID  string
	Lane     Lane
	FirstSeq uint64
	LastSeq  uint64
	OK       bool
	// Code is a machine-readable reason when !OK (protocols/uplink names
	// them), Error a sentence saying what went wrong.
	Code  string
	Error string
	// Retry is true when the agent should send the same batch again later
	// (Kafka did not acknowledge), false when the batch itself was rejected
	// and is on fl.deadletter.
	Retry bool
}

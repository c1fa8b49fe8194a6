package wire

import "errors"

// Errors returned by Decode. They are wrapped with detail; test with errors.Is.
var (
	// ErrMagic means the bytes do not start with the Fieldline header: not a
	// batch at all.
	ErrMagic = errors.New("not a fieldline batch (bad magic)")
	// ErrVersion means the header names a format this code does not know.
	ErrVersion = errors.New("unknown batch format version")
	// ErrTooLarge means the batch (compressed or decompressed) or its reading
	// count exceeds the decoder's limits.
	ErrTooLarge = errors.New("batch too large")
	// ErrCorrupt means the batch decompressed but its contents are
	// inconsistent: counts that do not add up, indexes out of range.
	ErrCorrupt = errors.New("corrupt batch")
	// ErrSeqOverflow means FirstSeq plus the reading count wraps.
	ErrSeqOverflow = errors.New("seq range overflows")
	// ErrAliasUnknown means a batch names sensor aliases that the decoder
	// was not given: the table's Birth has not reached it (yet). Not a
	// fault of the batch: it decodes once the table is known.
	ErrAliasUnknown = errors.New("sensor aliases not known")
)

// Errors about alias tables and their Birth records.
var (
	// ErrAliasTable means an alias table does not hold together: epoch 0,
	// an empty or repeated id, too many ids.
	ErrAliasTable = errors.New("invalid alias table")
	// ErrBirth means a Birth record does not parse.
	ErrBirth = errors.New("malformed birth record")
)

// Errors returned by DecodeRecord.
var (
	// ErrSchema means a record's fl-schema header names no format this code
	// reads.
	ErrSchema = errors.New("unknown record schema")
	// ErrRecord means a record's value does not parse in its schema, or holds
	// a quality, lane or kind out of range.
	ErrRecord = errors.New("malformed record")
)

// Errors returned by DecodeAck and DecodeStatus.
var (
	// ErrAck means a reply does not parse as an Ack, or names a lane out of
	// range.
	ErrAck = errors.New("malformed ack")
	// ErrStatus means a heartbeat does not parse as an AgentStatus, or names
	// a lane out of range.
	ErrStatus = errors.New("malformed agent status")
)

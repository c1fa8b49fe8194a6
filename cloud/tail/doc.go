// Package tail reads a Fieldline Kafka topic and prints each record as one
// readable line or one JSON object: what `fieldline-cloud tail` runs, so
// that nobody has to read binary protobuf through kcat.
//
// # Basics
//
// Run reads Options.Topic from a starting point (--from: the beginning, the
// end, an offset, N before the end, a time) up to the end it finds at start,
// or on with Follow, with read_committed isolation (records of aborted
// transactions are never shown). Each record goes through the decoder of
// its topic (decoders.go), chosen by the topic's name (a name that ends in
// "fl.readings" is fl.readings, so prefixed test topics work) or by
// Options.As; a topic without one is shown as its key, headers and value
// length. Records can be narrowed to one agent and to sensors matching a
// glob, and counted off with N.
//
// A text line starts with the record's partition and offset ("2:17"); a
// JSON object starts with "partition" and "offset" and goes on with the
// topic's own field names: for fl.readings exactly the names of the
// bridge's JSON records (agent_id, sensor_id, timestamp_ns, ...), for
// fl.aggregates those of the processor's (start_ns, length_ns, count, ...).
//
// # Caveats
//
// Records of several partitions come in the order Kafka hands them over:
// in order within a partition (one agent's records share one), interleaved
// across them. Run writes to Options.Out and returns errors; it does not
// know NATS, the agent or the bridge, only the records' bytes through
// protocols/wire.
package tail

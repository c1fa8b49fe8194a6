// Package wire owns the bytes of every Fieldline message: the codec that turns
// a fieldline.Batch (the data model lives in the module's root package) into
// bytes and back, on the wire and in the buffer's segments.
//
// # Basics
//
// A Reading is (agent, sensor, timestamp, value, quality, seq). Values are
// float64; booleans are 0/1 with Kind set to KindBool. Encode packs a Batch
// column by column (one column per sensor), codes timestamps as deltas of
// deltas and values as decimal digits (the ALP idea: most sensor values are
// short decimals such as 21.3, which become small integers after scaling by a
// power of ten) with exceptions kept bit for bit, marshals the protobuf
// message of wirepb and compresses it with zstd. Decode reverses it and checks
// every count and index so that hostile input yields an error, never a panic.
//
// The records of Kafka topics are coded here too: one reading per record of
// fl.readings (AppendRecordProto, AppendRecordJSON, DecodeRecord) and one
// windowed aggregate per record of fl.aggregates (AppendAggregateProto,
// AppendAggregateJSON, DecodeAggregate), each in protobuf or JSON as named by
// the record's fl-schema header.
//
// The codec is lossless: every float64, including NaN payloads, -0 and the
// infinities, comes back with the same bits.
//
// # Caveats
//
// The package knows nothing of sensors, buffers or networks; the only
// Fieldline package it imports is the data model (package fieldline).
package wire

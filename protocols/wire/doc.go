// Package wire owns the bytes of every Fieldline message: it turns the data
// model (the module's root package fieldline) into bytes and back. No other
// package touches protobuf.
//
//   - Batch: Encode and Decode, on the wire (fl.up.<agent_id>) and in the
//     buffer's segments; EncodeAliased and DecodeAliased name sensors by
//     the small numbers of an agent's alias table (Aliases, format version
//     3, alias.go), which a Birth record announces (AppendBirth,
//     DecodeBirth, IsBirth);
//   - Ack, the bridge's reply to a batch: EncodeAck and DecodeAck;
//   - AgentStatus, the heartbeat on fl.status.<agent_id>: EncodeStatus and
//     DecodeStatus;
//   - the Kafka record of fl.readings, one reading with its agent and lane
//     (Record): AppendRecordProto, AppendRecordJSON and DecodeRecord, named
//     by the record's fl-schema header (SchemaProto, SchemaJSON);
//   - the Kafka record of fl.alerts, one alert transition (AlertEvent):
//     AppendAlertProto, AppendAlertJSON and DecodeAlert (SchemaAlertProto,
//     SchemaAlertJSON); webhook bodies use the same JSON.
//
// # Basics
//
// A Reading is (agent, sensor, timestamp, value, quality, seq). Values are
// float64; booleans are 0/1 with Kind set to KindBool. Encode packs a Batch
// column by column (one column per sensor), codes timestamps as deltas of
// deltas and values as decimal digits (the ALP idea: most sensor values are
// short decimals such as 21.3, which become small integers after scaling by a
// power of ten) with exceptions kept bit for bit, marshals the protobuf
// message (fieldline.v1.Batch) and compresses it with zstd. Decode reverses it and checks
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
// Every message is written and read by hand with protowire (pb.go), in the
// bytes of the generated code of wirepb (fieldline.proto), which only the
// tests import: the generated code would link the protobuf runtime
// (reflection, registries), over half a megabyte of the agent's binary.
// pb_test.go checks the hand-written writers and readers against wirepb on
// random messages, field soup and edge cases, both ways, and
// FuzzReadersMatchGenerated keeps checking them under the fuzzer.
// TestAckBytes and TestStatusBytes pin the bytes of Ack and AgentStatus in
// testdata/golden. Every decoder is fuzzed and returns one of the errors in
// errors.go, never a panic.
//
// # Caveats
//
// The package knows nothing of sensors, buffers or networks; the only
// Fieldline package it imports is the data model (package fieldline).
package wire

package testkit

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produced counts what producers send to kfake, request by request, as it
// arrived on the wire.
type Produced struct {
	// Requests is the number of produce requests.
	Requests atomic.Int64
	// RecordBatches is the bytes of the record batches of every partition
	// of every request, as sent (compressed when the producer compresses):
	// the records with their batch headers, without the request's own
	// framing (topic names, acks, timeout).
	RecordBatches atomic.Int64
	// Bodies is the bytes of the whole request bodies (record batches and
	// framing, without the request header of client id and correlation id).
	Bodies atomic.Int64
}

// CountProduced starts counting every produce request kfake receives; the
// requests are then handled as usual. It needs kfake: k.Fake must not be
// nil.
func (k *Kafka) CountProduced() *Produced {
	p := new(Produced)
	k.Fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.Fake.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		p.Requests.Add(1)
		p.Bodies.Add(int64(len(pr.AppendTo(nil))))
		for _, t := range pr.Topics {
			for _, part := range t.Partitions {
				p.RecordBatches.Add(int64(len(part.Records)))
			}
		}
		return nil, nil, false
	})
	return p
}

package testkit

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FailProduce makes kfake answer every produce request with a retriable
// error (REQUEST_TIMED_OUT, as from brokers that cannot write) until the
// returned function is called. It needs kfake: k.Fake must not be nil.
func (k *Kafka) FailProduce() (restore func()) {
	var mu sync.Mutex
	failing := true
	k.Fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.Fake.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if !failing {
			return nil, nil, false
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 7 // REQUEST_TIMED_OUT
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() { mu.Lock(); failing = false; mu.Unlock() }
}

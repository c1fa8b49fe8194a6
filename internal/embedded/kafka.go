package embedded

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics are the Kafka topics Fieldline uses.
var Topics = []string{"fl.readings", "fl.aggregates", "fl.alerts", "fl.deadletter"}

// KafkaOptions configure StartKafka.
type KafkaOptions struct {
	Port       int    // 0 means a random free port
	Partitions int32  // partitions per topic, default 4
	DataDir    string // persist the log across restarts when set
}

// StartKafka starts kfake with Fieldline's topics created.
func StartKafka(o KafkaOptions) (*kfake.Cluster, error) {
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(o.Port),
		kfake.SeedTopics(o.Partitions, Topics...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(o.Partitions)),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded kafka: %w", err)
	}
	return c, nil
}

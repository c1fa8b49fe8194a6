package testkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/fieldline/fieldline/internal/embedded"
)

// NATS starts an embedded NATS server for the test and stops it at the end.
func NATS(t testing.TB) *embedded.NATS {
	t.Helper()
	n, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// Kafka is the Kafka a test talks to.
type Kafka struct {
	Brokers []string
	// Fake is the kfake cluster, nil when the test runs against real Kafka.
	Fake *kfake.Cluster
	// Prefix is put before every topic name so that tests sharing one real
	// broker do not see each other's records.
	Prefix string
}

// Topic is the name of a Fieldline topic ("fl.readings") for this test.
func (k *Kafka) Topic(name string) string { return k.Prefix + name }

// Real reports whether the test runs against a real broker.
func (k *Kafka) Real() bool { return k.Fake == nil }

var topicSeq atomic.Int64

// KafkaFromEnv returns the real brokers named by FL_KAFKA_BROKERS, or nil.
func KafkaFromEnv() []string {
	v := strings.TrimSpace(os.Getenv("FL_KAFKA_BROKERS"))
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// StartKafka gives the test a Kafka with Fieldline's topics: kfake, or the
// broker of FL_KAFKA_BROKERS with fresh topics under a unique prefix.
func StartKafka(t testing.TB) *Kafka {
	t.Helper()
	if brokers := KafkaFromEnv(); brokers != nil {
		k := &Kafka{Brokers: brokers, Prefix: fmt.Sprintf("t%d-%d-", time.Now().UnixNano(), topicSeq.Add(1))}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var names []string
		for _, n := range embedded.Topics {
			names = append(names, k.Topic(n))
		}
		if err := embedded.CreateTopics(ctx, brokers, 4, names...); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { embedded.DeleteTopics(brokers, names...) })
		return k
	}
	c, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Brokers: c.ListenAddrs(), Fake: c}
}

// WaitFor polls cond every 10ms until it holds, and fails the test naming
// what it waited for when within passes first.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

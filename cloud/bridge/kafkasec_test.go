package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/kafkasec"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// securedKafka is a Kafka that takes only TLS and SCRAM-SHA-512: the real
// broker's SASL_SSL listener under make test-kafka (scripts/kafka/kafka.sh
// names it in FL_KAFKA_SASL_*), else kfake with TLS and SCRAM.
func securedKafka(t *testing.T) (brokers []string, topic string, sec kafkasec.Config) {
	t.Helper()
	if b := os.Getenv("FL_KAFKA_SASL_BROKERS"); b != "" {
		sec = kafkasec.Config{TLS: tlsconf.Config{CAFile: os.Getenv("FL_KAFKA_SASL_CA")},
			SASL: kafkasec.SASL{Mechanism: kafkasec.ScramSHA512, User: os.Getenv("FL_KAFKA_SASL_USER"), PasswordFile: os.Getenv("FL_KAFKA_SASL_PASSWORD_FILE")}}
		brokers, topic = strings.Split(b, ","), fmt.Sprintf("fl.sasl.%d.readings", time.Now().UnixNano())
		createTopics(t, brokers, sec, topic, topic+".dead")
		return brokers, topic, sec
	}
	if os.Getenv("FL_KAFKA_BROKERS") != "" {
		t.Fatal("FL_KAFKA_BROKERS is set but FL_KAFKA_SASL_BROKERS is not: start the broker with scripts/kafka/kafka.sh (make test-kafka)")
	}
	cert, ca := testkit.SelfSignedCA(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "fl.readings", "fl.deadletter"),
		kfake.EnableSASL(), kfake.Superuser(kafkasec.ScramSHA512, "bridge", "s3cret-pw"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return kc.ListenAddrs(), "fl.readings", kafkasec.Config{TLS: tlsconf.Config{CAFile: ca}, SASL: kafkasec.SASL{Mechanism: kafkasec.ScramSHA512, User: "bridge", Password: "s3cret-pw"}}
}

// TestBridgeKafkaTLSAndSCRAM: the bridge writes to a Kafka that takes only
// TLS and SCRAM-SHA-512, with kafka.tls and kafka.sasl; a wrong password
// is refused.
func TestBridgeKafkaTLSAndSCRAM(t *testing.T) {
	brokers, topic, sec := securedKafka(t)
	ns := testkit.NATS(t)
	b, err := New(Config{
		NATS:     uplink.NATSConfig{URL: ns.URL()},
		Kafka:    KafkaConfig{Brokers: brokers, ReadingsTopic: topic, DeadletterTopic: topic + ".dead", Security: sec},
		Insecure: true,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-b.Ready()

	e := &env{nats: ns}
	ack, err := e.client(t, "gw-1").Send(context.Background(), encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 5, time.Now())}))
	if err != nil || !ack.OK {
		t.Fatalf("send: %v %+v", err, ack)
	}
	opts, err := sec.Opts(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	for n < 5 && fctx.Err() == nil {
		n += len(cl.PollFetches(fctx).Records())
	}
	if n != 5 {
		t.Fatalf("%d records over TLS and SCRAM, want 5", n)
	}

	wrong := sec
	wrong.SASL.Password, wrong.SASL.PasswordFile = "not-the-password", ""
	wopts, err := wrong.Opts(nil)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, wopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	if err := wc.Ping(pctx); err == nil {
		t.Fatal("a wrong SCRAM password was taken")
	}
}

// createTopics makes topics on the real broker through the secured
// listener (the test's own connection proves it too), and deletes them at
// the end.
func createTopics(t *testing.T, brokers []string, sec kafkasec.Config, names ...string) {
	t.Helper()
	opts, err := sec.Opts(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, 1, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("creating %v over SASL_SSL: %v", names, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, names...)
	})
}

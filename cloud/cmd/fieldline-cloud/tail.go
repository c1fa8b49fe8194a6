package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/tail"
	"github.com/fieldline/fieldline/internal/kafkasec"
)

func newTailCmd() *cobra.Command {
	var o tail.Options
	var brokers string
	var sec kafkasec.Config
	cmd := &cobra.Command{
		Use:   "tail TOPIC [flags]",
		Short: "print the records of a Fieldline topic, decoded, one line or JSON object each",
		Long: `Reads a Kafka topic and prints each record decoded: fl.readings (protobuf or
JSON records, as the bridge writes them) as time, agent, sensor, value,
quality, seq, lane and kind; fl.aggregates (the processor's windows) as
window start and length, count, min, max, mean, sum, quantiles, quality
counts, revision and close reason; fl.deadletter as the reason the bridge gave
and the head of the raw batch in hex; any other topic as its key, headers and
value length. Each line starts with partition:offset; --json prints one JSON
object per record with the same field names as the bridge's JSON records.

Reads with read_committed isolation, from --from up to the end the topic has
when tail starts, or on and on with --follow (Ctrl-C stops it).`,
		Example: `  fieldline-cloud tail fl.readings --brokers 127.0.0.1:9092 -n 10
  fieldline-cloud tail fl.readings --from -20 --agent gw-0001 --sensor 'boiler.*' --follow
  fieldline-cloud tail fl.readings --from 15m --json | jq .value
  fieldline-cloud tail fl.deadletter --from 2026-11-25T12:00:00Z
  fieldline-cloud tail fl.aggregates --agent gw-0001 --sensor boiler.temp --follow`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Topic, o.Out = args[0], cmd.OutOrStdout()
			o.Brokers = strings.Split(brokers, ",")
			kopt, err := sec.Opts(nil)
			if err != nil {
				return usageError{err}
			}
			o.KafkaOpts = kopt
			_, err = tail.Run(cmd.Context(), o)
			if errors.Is(err, tail.ErrOptions) {
				return usageError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&sec.TLS.CAFile, "tls-ca", "", "TLS to the brokers: the CA file to trust (kafka.tls.ca_file)")
	f.StringVar(&sec.SASL.Mechanism, "sasl-mechanism", "", "SASL to the brokers: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (kafka.sasl)")
	f.StringVar(&sec.SASL.User, "sasl-user", "", "the SASL user")
	f.StringVar(&sec.SASL.PasswordFile, "sasl-password-file", "", "a file (mode 0600) with the SASL password")
	f.StringVar(&o.From, "from", "beginning", "where to start in each partition: beginning, end, an offset (1200), a count before the end (-10), a time (2026-11-25T12:00:00Z) or a duration ago (15m)")
	f.StringVar(&o.Agent, "agent", "", "only the records of this agent")
	f.StringVar(&o.Sensor, "sensor", "", "only the readings of sensors matching this glob (* is any run of characters)")
	f.IntVarP(&o.N, "number", "n", 0, "stop after this many records (0: no limit)")
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new records until Ctrl-C")
	f.BoolVar(&o.JSON, "json", false, "one JSON object per record")
	f.StringVar(&o.As, "as", "", "decode as this Fieldline topic ("+strings.Join(tail.Topics(), ", ")+"), for a topic renamed in the bridge's config")
	return cmd
}

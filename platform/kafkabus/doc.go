// Package kafkabus holds the small, opinionated Kafka helpers the wallet
// builds on, on top of github.com/segmentio/kafka-go.
//
// The wallet relies on three properties, and every helper here is configured
// to preserve them:
//
//   - Durability of accepted events: writers wait for all in-sync replicas
//     (acks=all) before WriteMessages returns, so an event the wallet has
//     reported as published survives the loss of the partition leader.
//   - Per-transfer ordering: messages are keyed by transfer id and the writer
//     hashes keys to partitions, so all events of one transfer land on one
//     partition, in the order they were written.
//   - At-least-once consumption: readers join a consumer group and commit
//     offsets synchronously and only when told to (CommitMessages). A message
//     fetched but not committed is delivered again to the next member of the
//     group, so consumers must be idempotent, but nothing is lost.
//
// Topics are created explicitly with EnsureTopics (writers never auto-create
// topics), and Ping gives /readyz a cheap, bounded view of broker health.
//
// The helpers are exercised against a real broker: run `scripts/kafka.sh up`
// and then `KAFKA_BROKERS=127.0.0.1:9092 go test ./platform/kafkabus/`.
package kafkabus

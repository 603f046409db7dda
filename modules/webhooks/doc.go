// Package webhooks delivers the region's event stream to the HTTPS endpoints that
// gateways register, signed as the Standard Webhooks specification says
// (https://www.standardwebhooks.com), at least once, in each user's order.
//
// The path of an event: a consumer group of its own reads the region's event topic
// and writes one delivery row per subscribed endpoint (Service.Apply), in one
// transaction per batch, before its offsets are committed; a dispatcher on every
// replica claims due deliveries (leased, so two replicas never send one at once),
// sends them and records each attempt (Service.RunDispatcher). Nothing of it runs
// in a transaction that moves money, and nothing that moves money waits for it: a
// slow or dead endpoint delays only its own deliveries.
//
// Guarantees:
//   - every event of a subscribed type that happened after the endpoint was
//     registered is delivered at least once (a receiver deduplicates by the
//     webhook-id header, the event's id);
//   - one user's events reach an endpoint in the stream's order: a delivery waits
//     while an earlier one of the same user and endpoint is pending;
//   - a delivery that fails is retried on a capped, jittered schedule for more than
//     24 hours (Config.RetryDelays), then marked failed, and the user's next event
//     goes; a gateway can ask for any delivery again (Service.Redeliver);
//   - an endpoint is https:// and never resolves to a loopback, private, link-local
//     or otherwise internal address, checked at registration and again on every
//     connection (the local profile allows both, for tests on one machine).
//
// Endpoints and deliveries live on the region's first shard.
package webhooks

// Package helm holds the wallet Helm chart (helm/wallet) and its tests.
//
// chart_test.go renders the chart for every region under regions/*/values.yaml with
// the Helm Go SDK, decodes each manifest strictly into its k8s.io/api type, lints the
// chart strictly and checks the values schema, the secret-handling contract, and the
// network policies, images, resources and spreading of every pod.
// No helm binary or cluster is needed: `cd helm && go test ./...`. The chart's tests
// are a module of their own, so the Helm SDK and the Kubernetes API types stay out of
// the service's dependencies.
package helm

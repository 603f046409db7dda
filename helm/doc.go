// Package helm holds the wallet Helm chart (helm/wallet) and its tests.
//
// chart_test.go renders the chart for every region under regions/*/values.yaml with
// the Helm Go SDK, decodes each manifest strictly into its k8s.io/api type, lints the
// chart strictly and checks the values schema, the secret-handling contract, and the
// network policies, images, resources and spreading of every pod.
// No helm binary or cluster is needed: `go test ./helm/...`.
package helm

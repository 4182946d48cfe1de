// Package charts holds the Helm chart of sluice (charts/sluice) and, in its tests, what keeps
// the chart honest: it is rendered with Helm's own Go library (helm.sh/helm/v3) for default and
// non-default values, every document is decoded strictly into its Kubernetes type, the
// controller's arguments are parsed by the real `sluice controller` flag set, the RBAC rules
// are compared with the generated config/rbac/role.yaml, the default rendering is compared
// with dist/install.yaml, and Helm's linter runs on the chart.
//
// The package has no code of its own: the chart is plain files under charts/sluice, and
// `make generate` copies the generated controller role into charts/sluice/files.
package charts

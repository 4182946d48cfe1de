// Package registry picks the provider of a metric: the one place that maps a metric's provider
// block (metricprovider.Types) to a metricprovider.Provider. Exactly one provider must be set;
// none or several, a plugin (unsupported by sluice) or a provider that is not registered is a
// clear error rather than a panic, so the tree builds and runs at every commit while providers
// land one by one.
package registry

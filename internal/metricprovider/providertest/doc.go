// Package providertest is the conformance suite every metric provider passes (providertest.Run)
// against a real backend on loopback that the test steers: a chosen value, no data, an error,
// a slow answer, or nobody listening.
//
// A provider plugs in with a small adapter, a Case: the provider, and a function that returns a
// metric whose measurement makes the backend give a chosen Answer. The suite then checks what
// every provider owes the AnalysisRun controller: Value and Display for a value, Empty with a
// message naming the query for no data, Err for a backend error and for an unreachable
// address, timeouts (the context's and the metric's own), no panic on a zero-valued metric
// block, safety for concurrent use, and harmless Resume/Terminate/GarbageCollect for
// synchronous providers. It asserts results, never call sequences, and imports no provider.
package providertest

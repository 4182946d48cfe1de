// Package experiment reconciles Experiments, the ones a user applies and the ones a Rollout's
// experiment step creates: observe → plan → act → report. It reads the Experiment, the
// ReplicaSets, Services and AnalysisRuns it owns; internal/experiment decides; this package
// creates and scales the ReplicaSets (<experiment>-<template>), creates and deletes the
// templates' Services, creates AnalysisRuns from the analyses' templates (the AnalysisRun
// controller measures them) and terminates them, then writes the status once per pass and
// records the plan's events.
//
// Like the other controllers it only sees Experiments of its instance id and does nothing
// while Argo Rollouts' own controller holds its Lease.
package experiment

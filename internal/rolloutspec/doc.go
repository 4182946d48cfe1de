// Package rolloutspec is the one place that says whether a Rollout's spec can run: the
// planner's checks (plan.ValidateAll: fields, strategy, steps, what sluice does not implement
// yet) and the routers' (trafficrouter.ValidateAll: router settings, Services, route steps),
// and the Experiment controller's checks of the experiment steps' templates that run the
// Rollout's pod template (experiment.RolloutStepProblems), all pure. The controller refuses a
// Rollout with any of these problems (InvalidSpec, every problem in the condition's message),
// and `sluice lint` and `sluice plan` report the same list. Problems with referenced objects (a missing Service or VirtualService) are found where
// the objects are: by the controller when it observes them, by lint in the given files.
package rolloutspec

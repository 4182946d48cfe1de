package v1alpha1_test

import "strings"

// validationCase is a manifest the API server must reject with a message containing want (or,
// when want is empty, must accept). old, when set, is applied first: the case is an update.
type validationCase struct {
	name string
	old  string
	yaml string
	want string
}

// rollout returns a Rollout manifest with the given spec fields, YAML indented by two spaces (as
// children of spec:). A selector and a pod template matching it are added unless the fields
// bring their own (or a workloadRef).
func rollout(spec string) string {
	base := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: validation
spec:
`
	s := strings.TrimPrefix(spec, "\n")
	if !strings.Contains(s, "\n  selector:") && !strings.HasPrefix(s, "  selector:") && !strings.Contains(s, "workloadRef:") {
		s = "  selector:\n    matchLabels:\n      app: v\n" + s
	}
	if !strings.Contains(s, "template:") && !strings.Contains(s, "workloadRef:") {
		s += "  template:\n    metadata:\n      labels:\n        app: v\n    spec:\n      containers:\n      - name: app\n        image: nginx\n"
	}
	return base + s
}

// canary returns a Rollout manifest with the given canary strategy fields, YAML indented by six
// spaces (as children of spec.strategy.canary:).
func canary(canarySpec string) string {
	return rollout("  strategy:\n    canary:\n" + strings.TrimPrefix(canarySpec, "\n"))
}

const analysisTemplateHead = `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: validation
spec:
`

// validationCases are checked against the emulated admission chain (pure test) and against the
// local cluster's API server.
var validationCases = []validationCase{
	// Accepted: edge cases that must stay valid.
	{name: "accepts setWeight up to maxTrafficWeight", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        maxTrafficWeight: 1000
        nginx:
          stableIngress: ing
      steps:
      - setWeight: 1000
`)},
	{name: "accepts setCanaryScale and setHeaderRoute in one step", yaml: canary(`
      trafficRouting:
        managedRoutes:
        - name: hdr
        istio:
          virtualService:
            name: vs
      steps:
      - setCanaryScale:
          replicas: 1
        setHeaderRoute:
          name: hdr
          match:
          - headerName: x
            headerValue:
              prefix: a
`)},
	{name: "accepts pause durations in seconds and as strings", yaml: canary(`
      steps:
      - pause:
          duration: 0
      - pause:
          duration: "45"
      - pause:
          duration: 1h30m
      - pause:
          duration: 1.5h
`)},
	{name: "accepts maxSurge 0 with maxUnavailable 1", yaml: canary(`
      maxSurge: 0
      maxUnavailable: 1
`)},

	// Rejected: one rule each.
	{name: "step with two actions", want: "a step may set only one of setWeight, pause, analysis, experiment and plugin", yaml: canary(`
      steps:
      - setWeight: 20
        pause: {}
`)},
	{name: "empty step", want: "a step must set one of setWeight, pause, analysis, experiment, setCanaryScale", yaml: canary(`
      steps:
      - {}
`)},
	{name: "setWeight above 100", want: "setWeight must be between 0 and 100", yaml: canary(`
      steps:
      - setWeight: 120
`)},
	{name: "setWeight above maxTrafficWeight", want: "or between 0 and trafficRouting.maxTrafficWeight", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        maxTrafficWeight: 200
        nginx:
          stableIngress: ing
      steps:
      - setWeight: 300
`)},
	{name: "negative setWeight", want: "setWeight in body should be greater than or equal to 0", yaml: canary(`
      steps:
      - setWeight: -5
`)},
	{name: "pause duration not a duration", want: "pause duration must be a non-negative number of seconds or a duration", yaml: canary(`
      steps:
      - pause:
          duration: soon
`)},
	{name: "negative pause duration", want: "pause duration must be a non-negative number of seconds", yaml: canary(`
      steps:
      - pause:
          duration: -10
`)},
	{name: "canaryService equals stableService", want: "canaryService and stableService must name two different Services", yaml: canary(`
      canaryService: web
      stableService: web
`)},
	{name: "pingService equals pongService", want: "pingService and pongService must name two different Services", yaml: canary(`
      pingPong:
        pingService: web
        pongService: web
`)},
	{name: "both canary and blueGreen", want: "exactly one of strategy.canary or strategy.blueGreen must be set", yaml: rollout(`
  strategy:
    canary: {}
    blueGreen:
      activeService: active
`)},
	{name: "empty strategy", want: "exactly one of strategy.canary or strategy.blueGreen must be set", yaml: rollout(`
  strategy: {}
`)},
	{name: "nginx with stableIngress and stableIngresses", want: "nginx must set exactly one of stableIngress or stableIngresses", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        nginx:
          stableIngress: a
          stableIngresses: [b]
`)},
	{name: "istio with virtualService and virtualServices", want: "istio must set exactly one of virtualService or virtualServices", yaml: canary(`
      trafficRouting:
        istio:
          virtualService:
            name: a
          virtualServices:
          - name: b
`)},
	{name: "alb without ingress", want: "alb must set exactly one of ingress or ingresses", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        alb:
          servicePort: 80
`)},
	{name: "antiAffinity with both kinds", want: "antiAffinity must set exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution", yaml: canary(`
      antiAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
          weight: 10
        requiredDuringSchedulingIgnoredDuringExecution: {}
`)},
	{name: "antiAffinity weight 0", want: "weight in body should be greater than or equal to 1", yaml: canary(`
      antiAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
          weight: 0
`)},
	{name: "setCanaryScale with replicas and weight", want: "setCanaryScale takes only one of replicas, weight or matchTrafficWeight", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        smi: {}
      steps:
      - setCanaryScale:
          replicas: 2
          weight: 50
`)},
	{name: "setCanaryScale without trafficRouting", want: "setCanaryScale steps require trafficRouting", yaml: canary(`
      steps:
      - setCanaryScale:
          replicas: 2
`)},
	{name: "maxSurge and maxUnavailable both 0", want: "maxSurge and maxUnavailable must not both be 0", yaml: canary(`
      maxSurge: 0
      maxUnavailable: 0%
`)},
	{name: "maxSurge not a number or percentage", want: "maxSurge must be a non-negative number of pods or a percentage", yaml: canary(`
      maxSurge: lots
`)},
	{name: "string match with exact and prefix", want: "a string match must set exactly one of exact, prefix or regex", yaml: canary(`
      trafficRouting:
        managedRoutes:
        - name: hdr
        istio:
          virtualService:
            name: vs
      steps:
      - setHeaderRoute:
          name: hdr
          match:
          - headerName: x
            headerValue:
              exact: a
              prefix: b
`)},
	{name: "header route not in managedRoutes", want: "setHeaderRoute.name must be one of the routes listed in trafficRouting.managedRoutes", yaml: canary(`
      trafficRouting:
        managedRoutes:
        - name: other
        istio:
          virtualService:
            name: vs
      steps:
      - setHeaderRoute:
          name: hdr
`)},
	{name: "mirror route without trafficRouting", want: "setMirrorRoute.name must be one of the routes listed in trafficRouting.managedRoutes", yaml: canary(`
      steps:
      - setMirrorRoute:
          name: mirror
`)},
	{name: "stickiness duration above 7 days", want: "durationSeconds in body should be less than or equal to 604800", yaml: canary(`
      canaryService: c
      stableService: s
      trafficRouting:
        alb:
          ingress: ing
          servicePort: 80
          stickinessConfig:
            enabled: true
            durationSeconds: 700000
`)},
	{name: "scaleDownDelaySeconds without trafficRouting", want: "scaleDownDelaySeconds requires trafficRouting", yaml: canary(`
      scaleDownDelaySeconds: 30
`)},
	{name: "dynamicStableScale with scaleDownDelaySeconds", want: "dynamicStableScale cannot be combined with scaleDownDelaySeconds", yaml: canary(`
      canaryService: c
      stableService: s
      dynamicStableScale: true
      scaleDownDelaySeconds: 30
      trafficRouting:
        smi: {}
`)},
	{name: "experiment weight without trafficRouting", want: "experiment template weight requires trafficRouting", yaml: canary(`
      steps:
      - experiment:
          templates:
          - name: canary
            specRef: canary
            weight: 10
`)},
	{name: "experiment specRef unknown", want: `Unsupported value: "preview"`, yaml: canary(`
      steps:
      - experiment:
          templates:
          - name: canary
            specRef: preview
`)},
	{name: "scaleDownDelayRevisionLimit above revisionHistoryLimit", want: "scaleDownDelayRevisionLimit must not exceed revisionHistoryLimit", yaml: rollout(`
  revisionHistoryLimit: 3
  strategy:
    blueGreen:
      activeService: active
      scaleDownDelayRevisionLimit: 5
`)},
	{name: "activeService equals previewService", want: "activeService and previewService must name two different Services", yaml: rollout(`
  strategy:
    blueGreen:
      activeService: web
      previewService: web
`)},
	{name: "negative replicas", want: "replicas in body should be greater than or equal to 0", yaml: rollout(`
  replicas: -1
  strategy:
    canary: {}
`)},
	{name: "progressDeadlineSeconds not above minReadySeconds", want: "progressDeadlineSeconds (default 600) must be greater than minReadySeconds", yaml: rollout(`
  minReadySeconds: 60
  progressDeadlineSeconds: 30
  strategy:
    canary: {}
`)},
	{name: "no selector and no workloadRef", want: "selector is required unless workloadRef is set", yaml: `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: validation
spec:
  template:
    metadata:
      labels:
        app: v
    spec:
      containers:
      - name: app
        image: nginx
  strategy:
    canary: {}
`},
	{name: "empty selector", want: "selector must not be empty", yaml: rollout(`
  selector: {}
  strategy:
    canary: {}
`)},
	{name: "workloadRef and template", want: "template must be empty when workloadRef is set", yaml: rollout(`
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  template:
    spec:
      containers:
      - name: app
        image: nginx
  strategy:
    canary: {}
`)},
	{name: "workloadRef scaleDown unknown", want: `Unsupported value: "always"`, yaml: rollout(`
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
    scaleDown: always
  strategy:
    canary: {}
`)},
	{name: "selector changed", want: "selector is immutable", old: canary(`
      steps:
      - setWeight: 10
`), yaml: rollout(`
  selector:
    matchLabels:
      app: other
  template:
    metadata:
      labels:
        app: other
    spec:
      containers:
      - name: app
        image: nginx
  strategy:
    canary:
      steps:
      - setWeight: 10
`)},
	{name: "metric with two providers", want: "a metric provider must set exactly one of prometheus, kayenta, web", yaml: analysisTemplateHead + `  metrics:
  - name: m
    provider:
      prometheus:
        query: up
      web:
        url: http://x
`},
	{name: "metric count above 1 without interval", want: "a metric with count greater than 1 needs an interval between measurements", yaml: analysisTemplateHead + `  metrics:
  - name: m
    count: 3
    provider:
      prometheus:
        query: up
`},
	{name: "template without metrics", want: "a template needs at least one metric, or templates to take metrics from", yaml: analysisTemplateHead + `  args:
  - name: a
`},
	{name: "datadog apiVersion unknown", want: `Unsupported value: "v3"`, yaml: analysisTemplateHead + `  metrics:
  - name: m
    provider:
      datadog:
        apiVersion: v3
        query: avg:cpu{*}
`},
}

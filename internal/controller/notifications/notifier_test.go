package notifications

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/expr-lang/expr"
	"github.com/go-logr/logr/testr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestTriggerName(t *testing.T) {
	for reason, want := range map[string]string{
		"RolloutCompleted":     "on-rollout-completed",
		"RolloutStepCompleted": "on-rollout-step-completed",
		"RolloutUpdated":       "on-rollout-updated",
		"RolloutAborted":       "on-rollout-aborted",
		"RolloutPaused":        "on-rollout-paused",
		"ScalingReplicaSet":    "on-scaling-replica-set",
		"AnalysisRunRunning":   "on-analysis-run-running",
		"AnalysisRunError":     "on-analysis-run-error",
		"AnalysisRunFailed":    "on-analysis-run-failed",
	} {
		if got := TriggerName(reason); got != want {
			t.Errorf("TriggerName(%s) = %s, want %s", reason, got, want)
		}
	}
}

// request is what a loopback service received.
type request struct {
	Method, Path, Body, Auth string
	Form                     url.Values
}

// server records the requests it receives; fail makes the next n answer 500.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	got  []request
	fail int
}

func newServer(t *testing.T, answer string) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got = append(s.got, request{Method: r.Method, Path: r.URL.Path, Body: string(b), Auth: r.Header.Get("Authorization"), Form: form})
		if s.fail > 0 {
			s.fail--
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

// catalog is examples/notifications' ConfigMap (Argo's catalog) with extra keys.
func catalog(t *testing.T, extra map[string]string) *corev1.ConfigMap {
	t.Helper()
	b, err := os.ReadFile("../../../examples/notifications/argo-rollouts-notification-configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(b, cm); err != nil {
		t.Fatal(err)
	}
	cm.Namespace = "sluice"
	maps.Copy(cm.Data, extra)
	return cm
}

func exampleRollout(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../examples/notifications/rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = "apps"
	return ro
}

func testNotifier(t *testing.T) (*Notifier, *events.FakeRecorder) {
	t.Helper()
	rec := events.NewFakeRecorder(20)
	return &Notifier{events: rec, log: testr.New(t), sendTimeout: 10 * time.Second, retries: 2, retryBackoff: 10 * time.Millisecond}, rec
}

func mustBuild(t *testing.T, cm *corev1.ConfigMap, secret map[string]string) *config {
	t.Helper()
	s := &corev1.Secret{Data: map[string][]byte{}}
	for k, v := range secret {
		s.Data[k] = []byte(v)
	}
	c, err := build(cm, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Argo's catalog over a webhook: the subscribed events send the catalog's message, rendered
// with the Rollout's values, with the Secret's token; an event nobody subscribed to sends
// nothing.
func TestCatalogOverWebhook(t *testing.T) {
	srv := newServer(t, "ok")
	c := mustBuild(t, catalog(t, map[string]string{
		"service.webhook.my-hook": "url: " + srv.URL + "\nheaders:\n- name: Authorization\n  value: Bearer $hook-token\n",
	}), map[string]string{"hook-token": "s3cret"})
	n, rec := testNotifier(t)
	ro := exampleRollout(t)
	ro.Status.CurrentStepIndex = new(int32(0))
	for _, reason := range []string{"RolloutStepCompleted", "RolloutPaused", "RolloutAborted"} {
		n.deliverWith(t.Context(), c, job{ro: ro, eventtype: corev1.EventTypeNormal, reason: reason})
	}
	want := []request{
		{Method: http.MethodGet, Path: "/", Body: "Rollout my-rollout step number 1/3 has been completed.", Auth: "Bearer s3cret"},
		{Method: http.MethodGet, Path: "/", Body: "Rollout my-rollout has been aborted.", Auth: "Bearer s3cret"},
	}
	got := srv.requests()
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if g := got[i]; g.Method != want[i].Method || g.Path != want[i].Path || g.Body != want[i].Body || g.Auth != want[i].Auth {
			t.Errorf("request %d: got %+v, want %+v", i, g, want[i])
		}
	}
	if len(rec.Events) != 0 {
		t.Errorf("unexpected event: %s", <-rec.Events)
	}
}

// A `when` that does not hold sends nothing on the event; one that holds sends, with the
// template's webhook method, path and body for the service.
func TestEventTriggerWithCondition(t *testing.T) {
	srv := newServer(t, "ok")
	c := mustBuild(t, catalog(t, map[string]string{
		"service.webhook.my-hook":   "url: " + srv.URL + "/api\n",
		"trigger.on-rollout-paused": "- when: rollout.spec.replicas > 5\n  send: [big-paused]\n",
		"template.big-paused": "webhook:\n  my-hook:\n    method: POST\n    path: /paused/{{.rollout.metadata.namespace}}\n" +
			"    body: '{\"name\": \"{{.rollout.metadata.name}}\", \"replicas\": {{.rollout.spec.replicas}}}'\n",
	}), nil)
	n, _ := testNotifier(t)
	ro := exampleRollout(t)
	ro.Annotations["notifications.argoproj.io/subscribe.on-rollout-paused.my-hook"] = ""
	n.deliverWith(t.Context(), c, job{ro: ro, reason: "RolloutPaused"})
	if got := srv.requests(); len(got) != 0 {
		t.Fatalf("3 replicas: want no request, got %+v", got)
	}
	ro.Spec.Replicas = new(int32(10))
	n.deliverWith(t.Context(), c, job{ro: ro, reason: "RolloutPaused"})
	got := srv.requests()
	want := request{Method: http.MethodPost, Path: "/api/paused/apps", Body: `{"name": "my-rollout", "replicas": 10}`}
	if len(got) != 1 || got[0].Method != want.Method || got[0].Path != want.Path || got[0].Body != want.Body {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// Slack through its HTTP API on a loopback server (the service's apiURL): the catalog's
// attachments rendered, the token from the Secret, a failure retried.
func TestSlackRetried(t *testing.T) {
	srv := newServer(t, `{"ok": true, "channel": "C1", "ts": "1.2"}`)
	srv.fail = 1
	c := mustBuild(t, catalog(t, map[string]string{
		"service.slack": "token: $slack-token\napiURL: " + srv.URL + "/api/\n",
	}), map[string]string{"slack-token": "xoxb-1"})
	n, rec := testNotifier(t)
	ro := exampleRollout(t)
	ro.Annotations = map[string]string{"notifications.argoproj.io/subscribe.on-rollout-aborted.slack": "deploys"}
	n.deliverWith(t.Context(), c, job{ro: ro, reason: "RolloutAborted"})
	got := srv.requests()
	if len(got) != 2 {
		t.Fatalf("want a failed request and its retry, got %+v", got)
	}
	last := got[1]
	if last.Path != "/api/chat.postMessage" || last.Form.Get("token") != "xoxb-1" || last.Form.Get("channel") != "deploys" ||
		last.Form.Get("text") != "Rollout my-rollout has been aborted." {
		t.Errorf("request: %+v", last)
	}
	if a := last.Form.Get("attachments"); !strings.Contains(a, `"title":"my-app"`) || !strings.Contains(a, `"value":"nginx:1.25"`) || !strings.Contains(a, "#E01E5A") {
		t.Errorf("attachments not Argo's rollout-aborted template with the Rollout's values: %s", a)
	}
	if len(rec.Events) != 0 {
		t.Errorf("unexpected event: %s", <-rec.Events)
	}
}

// A service that keeps failing, or a trigger that is not defined: the Rollout gets a
// NotificationFailed event naming the trigger and the destination.
func TestFailureEvent(t *testing.T) {
	srv := newServer(t, "ok")
	srv.fail = 100
	c := mustBuild(t, catalog(t, map[string]string{
		"service.webhook.my-hook": "url: " + srv.URL + "\nretryMax: 1\nretryWaitMin: 1000000\nretryWaitMax: 1000000\n",
	}), nil)
	n, rec := testNotifier(t)
	ro := exampleRollout(t)
	ro.Annotations["notifications.argoproj.io/subscribe.on-rollout-resumed.my-hook"] = ""
	n.deliverWith(t.Context(), c, job{ro: ro, reason: "RolloutAborted"})
	n.deliverWith(t.Context(), c, job{ro: ro, reason: "RolloutResumed"})
	if got := len(srv.requests()); got != 2 {
		t.Errorf("webhook with retryMax 1: %d requests, want 2 (sluice adds no retries of its own)", got)
	}
	for _, want := range []string{
		"on-rollout-aborted notification to my-hook failed: ",
		"on-rollout-resumed notification to my-hook failed: trigger on-rollout-resumed is not defined",
	} {
		select {
		case e := <-rec.Events:
			if !strings.Contains(e, ReasonNotificationFailed) || !strings.Contains(e, want) {
				t.Errorf("event %q, want %s with %q", e, ReasonNotificationFailed, want)
			}
		default:
			t.Errorf("no event for %q", want)
		}
	}
}

// A ConfigMap the engine refuses: the error names the key.
func TestBadConfigNamesTheKey(t *testing.T) {
	for key, value := range map[string]string{
		"trigger.on-x":      "- when: rollout.spec.replicas >\n  send: [x]\n",
		"trigger.on-y":      "send: [x]\n",
		"template.broken":   "message: '{{.rollout.metadata.name'\n",
		"service.a.b.c":     "url: x\n",
		"service.webhook.h": "url: [\n",
	} {
		_, err := build(catalog(t, map[string]string{key: value}), &corev1.Secret{})
		if err == nil || !strings.Contains(err.Error(), `key "`+key+`"`) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
}

// Argo's time variables in `when`: time.Now() and time.Parse(RFC 3339); a bad timestamp is an
// error of the condition (Argo's Parse panics).
func TestTimeInConditions(t *testing.T) {
	vars := templateVars(map[string]any{"status": map[string]any{"at": "2020-01-01T00:00:00Z"}}, services.Destination{})
	for src, want := range map[string]any{
		`time.Parse(rollout.status.at).Year()`:                         2020,
		`time.Now().Sub(time.Parse(rollout.status.at)).Hours() > 24.0`: true,
	} {
		p, err := expr.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := expr.Run(p, vars); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	p, err := expr.Compile(`time.Parse("yesterday")`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Run(p, vars); err == nil {
		t.Error("time.Parse of a bad timestamp: no error")
	}
}

// The recorder never waits for the queue: with the queue full, events are dropped (and
// counted as failed sends) at once.
func TestEnqueueNeverBlocks(t *testing.T) {
	n, _ := testNotifier(t)
	n.queue = make(chan job, 1)
	rec := n.Recorder(events.NewFakeRecorder(10))
	ro := exampleRollout(t)
	ro.Name = "queue-full"
	done := make(chan struct{})
	go func() {
		for range 3 {
			rec.Eventf(ro, nil, corev1.EventTypeNormal, "RolloutUpdated", "Update", "updated")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Eventf blocked on a full queue")
	}
	var m dto.Metric
	if err := sendErrors.WithLabelValues("apps", "queue-full", corev1.EventTypeNormal, "RolloutUpdated").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Errorf("dropped notifications counted %v times, want 2", got)
	}
	if len(n.queue) != 1 {
		t.Errorf("queue holds %d, want 1", len(n.queue))
	}
}

// A service that never answers is given up after the send deadline, with a
// NotificationFailed event, so later notifications still go out.
func TestSendDeadline(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	c := mustBuild(t, catalog(t, map[string]string{
		"service.webhook.my-hook": "url: " + hung.URL + "\nretryMax: 1\n",
	}), nil)
	n, rec := testNotifier(t)
	n.sendTimeout = 200 * time.Millisecond
	start := time.Now()
	n.deliverWith(t.Context(), c, job{ro: exampleRollout(t), reason: "RolloutAborted"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("deliver took %s with a 200ms send deadline", d)
	}
	select {
	case e := <-rec.Events:
		if !strings.Contains(e, "no answer within 200ms") {
			t.Errorf("event %q", e)
		}
	default:
		t.Error("no NotificationFailed event")
	}
}

package gatewayapi

import (
	"bytes"
	"encoding/json"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Type is the router's name (the plugin's Type).
const Type = "GatewayAPI"

// PluginName is the key of trafficRouting.plugins this router reads.
const PluginName = "argoproj-labs/gatewayAPI"

// Group is the Gateway API group.
const Group = "gateway.networking.k8s.io"

// Route kinds.
const (
	KindHTTPRoute = "HTTPRoute"
	KindGRPCRoute = "GRPCRoute"
	KindTCPRoute  = "TCPRoute"
	KindTLSRoute  = "TLSRoute"
)

// APIVersions are the versions of each route kind the router can use (all carry the fields it
// reads and writes). Without an explicit version the router uses the newest one the cluster
// serves: for TCPRoute and TLSRoute v1 with the Gateway API v1.5+ standard channel, v1alpha2
// (the plugin's version) or v1alpha3 with older experimental channels.
var APIVersions = map[string][]string{
	KindHTTPRoute: {"v1", "v1beta1"},
	KindGRPCRoute: {"v1", "v1alpha2"},
	KindTCPRoute:  {"v1", "v1alpha2"},
	KindTLSRoute:  {"v1", "v1alpha3", "v1alpha2"},
}

// StreamVersionFlag is the controller flag that picks the TCPRoute/TLSRoute version explicitly.
const StreamVersionFlag = "--gateway-api-stream-version"

// API is a route kind with how its version is chosen: for TCPRoute and TLSRoute streamVersion
// when set, else (and for HTTPRoute and GRPCRoute) the newest of APIVersions the cluster serves.
func API(kind, streamVersion string) kubeobj.API {
	a := kubeobj.API{GroupKind: schema.GroupKind{Group: Group, Kind: kind}, Known: APIVersions[kind]}
	if kind == KindTCPRoute || kind == KindTLSRoute {
		a.Version, a.Flag = streamVersion, StreamVersionFlag
	}
	return a
}

// CheckStreamVersion returns an error when an explicit TCPRoute/TLSRoute version is not one
// both kinds have (v1, v1alpha2).
func CheckStreamVersion(streamVersion string) error {
	for _, kind := range []string{KindTCPRoute, KindTLSRoute} {
		if err := API(kind, streamVersion).CheckVersion(); err != nil {
			return err
		}
	}
	return nil
}

// PluginConfig is the plugin's configuration object, field for field.
type PluginConfig struct {
	HTTPRoute  string     `json:"httpRoute,omitempty"`
	GRPCRoute  string     `json:"grpcRoute,omitempty"`
	TCPRoute   string     `json:"tcpRoute,omitempty"`
	TLSRoute   string     `json:"tlsRoute,omitempty"`
	Namespace  string     `json:"namespace,omitempty"`
	ConfigMap  string     `json:"configMap,omitempty"`
	HTTPRoutes []RouteRef `json:"httpRoutes,omitempty"`
	GRPCRoutes []RouteRef `json:"grpcRoutes,omitempty"`
	TCPRoutes  []RouteRef `json:"tcpRoutes,omitempty"`
	TLSRoutes  []RouteRef `json:"tlsRoutes,omitempty"`
	// The selectors (route discovery by label) are parsed so that they can be refused with a
	// clear message.
	HTTPRouteSelector      *metav1.LabelSelector `json:"httpRouteSelector,omitempty"`
	GRPCRouteSelector      *metav1.LabelSelector `json:"grpcRouteSelector,omitempty"`
	TCPRouteSelector       *metav1.LabelSelector `json:"tcpRouteSelector,omitempty"`
	TLSRouteSelector       *metav1.LabelSelector `json:"tlsRouteSelector,omitempty"`
	DisableInProgressLabel bool                  `json:"disableInProgressLabel,omitempty"`
	InProgressLabelKey     string                `json:"inProgressLabelKey,omitempty"`
	InProgressLabelValue   string                `json:"inProgressLabelValue,omitempty"`
}

// RouteRef names a route in the plural lists.
type RouteRef struct {
	Name            string `json:"name"`
	UseHeaderRoutes bool   `json:"useHeaderRoutes,omitempty"`
}

// Route is one route the router manages.
type Route struct {
	Kind, Name string
	// UseHeaderRoutes: header and mirror routes go into this route (HTTPRoute, GRPCRoute).
	UseHeaderRoutes bool
}

// ParseConfig decodes the plugin configuration strictly: an unknown field is an error (a typo
// would otherwise be ignored), and so are the label selectors sluice does not implement yet.
func ParseConfig(raw json.RawMessage) (PluginConfig, error) {
	var pc PluginConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pc); err != nil {
		return pc, contract.Invalidf(Type, "trafficRouting.plugins[%q]: %v", PluginName, err)
	}
	for field, sel := range map[string]*metav1.LabelSelector{
		"httpRouteSelector": pc.HTTPRouteSelector, "grpcRouteSelector": pc.GRPCRouteSelector,
		"tcpRouteSelector": pc.TCPRouteSelector, "tlsRouteSelector": pc.TLSRouteSelector,
	} {
		if sel != nil {
			return pc, contract.Invalidf(Type, "trafficRouting.plugins[%q].%s (route discovery by label) is not supported by sluice yet; name the routes (httpRoutes, grpcRoutes, …)", PluginName, field)
		}
	}
	if len(pc.Routes()) == 0 {
		return pc, contract.Invalidf(Type, "trafficRouting.plugins[%q] configures no routes: set httpRoute(s), grpcRoute(s), tcpRoute(s) or tlsRoute(s)", PluginName)
	}
	for _, r := range pc.Routes() {
		if r.Name == "" {
			return pc, contract.Invalidf(Type, "trafficRouting.plugins[%q]: a %s entry has no name", PluginName, r.Kind)
		}
	}
	return pc, nil
}

// Routes lists the configured routes: the plural lists, then each singular field (which, as in
// the plugin, takes header routes).
func (pc PluginConfig) Routes() []Route {
	var out []Route
	add := func(kind string, list []RouteRef, single string) {
		for _, r := range list {
			out = append(out, Route{Kind: kind, Name: r.Name, UseHeaderRoutes: r.UseHeaderRoutes})
		}
		if single != "" {
			out = append(out, Route{Kind: kind, Name: single, UseHeaderRoutes: true})
		}
	}
	add(KindHTTPRoute, pc.HTTPRoutes, pc.HTTPRoute)
	add(KindGRPCRoute, pc.GRPCRoutes, pc.GRPCRoute)
	add(KindTCPRoute, pc.TCPRoutes, pc.TCPRoute)
	add(KindTLSRoute, pc.TLSRoutes, pc.TLSRoute)
	return out
}

// Config is what the router takes from the Rollout and the options.
type Config struct {
	// Rollout and Namespace are the Rollout's name and namespace.
	Rollout, Namespace string
	// Plugin is the parsed plugin configuration.
	Plugin PluginConfig
	// ManagedRoutes are the names in trafficRouting.managedRoutes, in order.
	ManagedRoutes []string
	// Services are the Rollout's canaryService and stableService, for Cleanup.
	Services contract.Services
	// Total is maxTrafficWeight (0 = 100), for Cleanup.
	Total int32
	// StreamVersion is the TCPRoute/TLSRoute version when chosen explicitly; "" means the newest
	// the cluster serves (see API).
	StreamVersion string
}

// ConfigFor reads the Config of a Rollout whose plugins[PluginName] is set.
func ConfigFor(ro *v1alpha1.Rollout, streamVersion string) (Config, error) {
	c := ro.Spec.Strategy.Canary
	pc, err := ParseConfig(c.TrafficRouting.Plugins[PluginName])
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Rollout: ro.Name, Namespace: ro.Namespace, Plugin: pc, StreamVersion: streamVersion,
		Services: contract.Services{Canary: c.CanaryService, Stable: c.StableService},
	}
	if c.TrafficRouting.MaxTrafficWeight != nil {
		cfg.Total = *c.TrafficRouting.MaxTrafficWeight
	}
	for _, m := range c.TrafficRouting.ManagedRoutes {
		cfg.ManagedRoutes = append(cfg.ManagedRoutes, m.Name)
	}
	return cfg, nil
}

// RouteNamespace is where the routes live: the plugin's namespace, or the Rollout's.
func (c Config) RouteNamespace() string {
	if c.Plugin.Namespace != "" {
		return c.Plugin.Namespace
	}
	return c.Namespace
}

// inProgressLabel is the label set on routes while the canary has weight, or "" when disabled.
func (c Config) inProgressLabel() (key, value string) {
	if c.Plugin.DisableInProgressLabel {
		return "", ""
	}
	key, value = c.Plugin.InProgressLabelKey, c.Plugin.InProgressLabelValue
	if key == "" {
		key = v1alpha1.LabelGatewayAPICanary
	}
	if value == "" {
		value = v1alpha1.GatewayAPICanaryInProgress
	}
	return key, value
}

// headerKinds are the route kinds that take header and mirror routes.
func headerKinds(kind string) bool {
	return slices.Contains([]string{KindHTTPRoute, KindGRPCRoute}, kind)
}

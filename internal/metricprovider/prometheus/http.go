package prometheus

import (
	"context"
	"crypto/tls"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// transports are shared by all measurements (connection reuse); index 1 skips TLS
// verification.
type transports [2]*http.Transport

func newTransports() transports {
	var t transports
	for i := range t {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		//nolint:gosec // insecure is the metric's explicit choice (insecure: true).
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: i == 1, MinVersion: tls.VersionTLS12}
		t[i] = tr
	}
	return t
}

// client is the HTTP client of one measurement: the metric's headers and basic auth on every
// request, under an OAuth2 client-credentials token when configured (the token request goes
// through the same transport).
func (t transports) client(ctx context.Context, m *v1alpha1.PrometheusMetric) *http.Client {
	tr := t[0]
	if m.Insecure {
		tr = t[1]
	}
	base := &http.Client{Transport: &decorate{base: tr, headers: m.Headers, basic: m.Authentication.BasicAuth}}
	o := m.Authentication.OAuth2
	if o.TokenURL == "" {
		return base
	}
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	// The token's transport wraps the context's client: the queries keep headers and TLS.
	return cc.Client(context.WithValue(ctx, oauth2.HTTPClient, base))
}

// decorate adds the metric's headers, then basic authentication unless an Authorization
// header is already there (an explicit header or an OAuth2 token wins).
type decorate struct {
	base    http.RoundTripper
	headers []v1alpha1.WebMetricHeader
	basic   v1alpha1.BasicAuth
}

func (d *decorate) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for _, h := range d.headers {
		r.Header.Set(h.Key, h.Value)
	}
	if (d.basic.Username != "" || d.basic.Password != "") && r.Header.Get("Authorization") == "" {
		r.SetBasicAuth(d.basic.Username, d.basic.Password)
	}
	return d.base.RoundTrip(r)
}

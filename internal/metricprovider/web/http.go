package web

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"

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

func (t transports) get(insecure bool) *http.Transport {
	if insecure {
		return t[1]
	}
	return t[0]
}

// client is an HTTP client for one measurement: OAuth2 client credentials when configured
// (the token request goes through the same transport), the plain transport otherwise.
func (t transports) client(ctx context.Context, insecure bool, auth v1alpha1.Authentication) *http.Client {
	base := &http.Client{Transport: t.get(insecure)}
	o := auth.OAuth2
	if o.TokenURL == "" {
		return base
	}
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	return cc.Client(context.WithValue(ctx, oauth2.HTTPClient, base))
}

// setBasicAuth adds basic authentication unless the request already carries an
// Authorization header (an explicit header wins).
func setBasicAuth(r *http.Request, b v1alpha1.BasicAuth) {
	if (b.Username != "" || b.Password != "") && r.Header.Get("Authorization") == "" {
		r.SetBasicAuth(b.Username, b.Password)
	}
}

// redactURL is u as messages show it: no password, and the values of query parameters whose
// names suggest a credential masked.
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			lk := strings.ToLower(k)
			for _, s := range []string{"key", "token", "secret", "password", "auth", "sig"} {
				if strings.Contains(lk, s) {
					q[k] = []string{"xxxxx"}
					break
				}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

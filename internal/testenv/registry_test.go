package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
)

func TestStartRegistry(t *testing.T) {
	tests := []struct {
		name string
		opts RegistryOptions
		want int // status of GET /v2/ without credentials
	}{
		{"plain", RegistryOptions{}, http.StatusOK},
		{"tls and auth", RegistryOptions{TLS: true, Users: map[string]string{"ci": "s3cret"}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := StartRegistry(t, tt.opts)
			client := &http.Client{}
			if tt.opts.TLS {
				pem, err := os.ReadFile(r.CAFile)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					t.Fatal("no certificate in CA file")
				}
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
			}
			resp, err := client.Get(r.URL + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET /v2/ = %d, want %d", resp.StatusCode, tt.want)
			}
			if len(tt.opts.Users) > 0 {
				req, _ := http.NewRequest(http.MethodGet, r.URL+"/v2/", nil)
				req.SetBasicAuth("ci", "s3cret")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET /v2/ with credentials = %d, want 200", resp.StatusCode)
				}
			}
			if err := r.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Get(r.URL + "/v2/"); err == nil {
				t.Error("registry still answers after Stop")
			}
		})
	}
}

// Package deadline bounds every wait of a network request: connect, TLS handshake, response headers and a body that stops moving.
package deadline

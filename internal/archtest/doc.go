// Package archtest holds tests that keep Slipway's imports flowing one way.
package archtest

// Package termtext makes text from other systems safe to write to a terminal.
package termtext

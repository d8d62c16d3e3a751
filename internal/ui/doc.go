// Package ui renders Slipway's terminal output: step lines, progress bars and tables.
package ui

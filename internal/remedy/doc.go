// Package remedy holds the next steps that core errors carry as data, for
// the command line to word.
package remedy

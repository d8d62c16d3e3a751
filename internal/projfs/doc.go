// Package projfs reads and writes files under a project without leaving it: no symlink, no special file, no read without a bound.
package projfs

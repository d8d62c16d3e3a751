//go:build unix

package projfs

import "syscall"

// openFlags opens without blocking: a FIFO swapped in after the check
// would otherwise hold the open until a writer comes.
const openFlags = syscall.O_RDONLY | syscall.O_NONBLOCK

// Fatal errors inside the kernel. One path for all of them: a crash report on
// the console ("*** ringzero crash: ...", a backtrace, "*** end of crash
// report") and the end of the VM with a status from os::exit_status.
#pragma once

namespace rz {

// A kernel invariant broke: reports and ends the VM with exit_status::panic.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);

// Reports and ends the VM with the given os::exit_status (out_of_memory,
// heap_corruption, ...).
[[noreturn, gnu::format(printf, 2, 3)]] void fatal(int status, const char* fmt, ...);

}  // namespace rz

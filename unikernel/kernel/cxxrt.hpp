// Start-up of the C++ runtime.
#pragma once

namespace rz::cxxrt {

// Copies the TLS image into the CPU's TLS block and points %fs at it. Must
// run before any code that uses thread_local or the stack protector
// (libsupc++'s exception globals are thread_local).
void init_tls();

// Runs the global constructors (.init_array), after the heap is up.
void run_constructors();

}  // namespace rz::cxxrt

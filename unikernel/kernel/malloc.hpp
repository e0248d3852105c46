// The kernel's one heap, behind malloc()/free() and operator new/delete
// (kernel/malloc.cpp).
//
// Policy: the malloc family returns nullptr with errno = ENOMEM when memory
// runs out; the throwing forms of operator new end the VM with a crash report
// and os::exit_status::out_of_memory. Errors the heap detects (double or
// invalid free; in debug mode also overruns and underruns) end the VM with
// os::exit_status::heap_corruption.
#pragma once
#include <cstddef>

#include "kernel/heap.hpp"

namespace rz {

// Hands [base, base + size) to the heap; "heap=debug" on the command line
// turns on debug mode. Must run before anything allocates: malloc() or
// operator new before it is a panic.
void heap_init(void* base, std::size_t size, bool debug);

// The heap itself, e.g. for stats() or check().
Heap& kernel_heap();

}  // namespace rz

// The kernel heap behind the C allocation functions and every replaceable
// C++ operator new/delete. See kernel/malloc.hpp for the policy.
#include "kernel/malloc.hpp"

#include <malloc.h>

#include <cerrno>
#include <cstdlib>
#include <new>
#include <ringzero/os.hpp>

#include "kernel/panic.hpp"

namespace rz {
namespace {

// Constant-initialized: it must not be reset by the global constructors,
// which run after heap_init() (and may allocate).
constinit Heap heap;

void on_heap_error(HeapError error, const void* ptr, void*) {
  fatal(os::exit_status::heap_corruption, "heap: %s at %p", describe(error), ptr);
}

inline void* allocate(std::size_t size, std::size_t align) {
  if (!heap.initialized()) [[unlikely]] {
    panic("allocation of %zu bytes before heap_init()", size);
  }
  return heap.allocate(size, align);
}

inline void release(void* ptr) {
  if (!ptr) return;
  if (!heap.initialized()) [[unlikely]]
    panic("free(%p) before heap_init()", ptr);
  heap.free(ptr);
}

// The malloc family: nullptr and ENOMEM when there is no room.
inline void* allocate_or_enomem(std::size_t size, std::size_t align) {
  void* p = allocate(size, align);
  if (!p) [[unlikely]]
    errno = ENOMEM;
  return p;
}

[[noreturn, gnu::noinline, gnu::cold]] void out_of_memory(std::size_t size, std::size_t align) {
  Heap::Stats s = heap.stats();
  fatal(os::exit_status::out_of_memory,
        "out of memory: operator new(%zu, align %zu) failed; heap %zu KiB, in use %zu bytes "
        "in %zu blocks, free %zu bytes, largest free block %zu bytes",
        size, align, s.capacity / 1024, s.in_use, s.live, s.free_bytes, s.largest_free_block);
}

// The throwing operator new: no new_handler, no std::bad_alloc; running out
// of memory ends the VM.
inline void* allocate_or_die(std::size_t size, std::size_t align) {
  void* p = allocate(size, align);
  if (!p) [[unlikely]]
    out_of_memory(size, align);
  return p;
}

inline std::size_t new_alignment(std::align_val_t align) {
  auto a = static_cast<std::size_t>(align);
  return a < Heap::default_alignment ? Heap::default_alignment : a;
}

inline bool power_of_two(std::size_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

constexpr std::size_t page_size = 4096;

}  // namespace

void heap_init(void* base, std::size_t size, bool debug) {
  heap.init(base, size, debug, on_heap_error);
  if (!heap.initialized()) panic("heap: region %p of %zu bytes is too small", base, size);
}

Heap& kernel_heap() {
  return heap;
}

}  // namespace rz

namespace os {

HeapStats heap_stats() {
  rz::Heap::Stats s = rz::kernel_heap().stats();
  return HeapStats{.capacity = s.capacity,
                   .in_use = s.in_use,
                   .peak = s.peak,
                   .live = s.live,
                   .allocations = s.allocations,
                   .frees = s.frees};
}

bool heap_debug() {
  return rz::kernel_heap().debug();
}

}  // namespace os

// ---- C ----------------------------------------------------------------------

using rz::Heap;

extern "C" {

void* malloc(std::size_t size) noexcept {
  return rz::allocate_or_enomem(size, Heap::default_alignment);
}

void free(void* ptr) noexcept {
  rz::release(ptr);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
  std::size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = rz::allocate_or_enomem(total, Heap::default_alignment);
  if (p) __builtin_memset(p, 0, total);
  return p;
}

// realloc(p, 0) frees p and returns nullptr, as glibc does.
void* realloc(void* ptr, std::size_t size) noexcept {
  if (!ptr) return rz::allocate_or_enomem(size, Heap::default_alignment);
  if (size == 0) {
    rz::release(ptr);
    return nullptr;
  }
  if (!rz::heap.initialized()) rz::panic("realloc(%p) before heap_init()", ptr);
  void* p = rz::heap.reallocate(ptr, size);
  if (!p) errno = ENOMEM;
  return p;
}

void* reallocarray(void* ptr, std::size_t count, std::size_t size) noexcept {
  std::size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(ptr, total);
}

void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
  if (!rz::power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return rz::allocate_or_enomem(size, align);
}

int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept {
  if (!rz::power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  void* p = rz::allocate(size, align);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

// Like glibc, memalign() takes any alignment and rounds it up to a power of two.
void* memalign(std::size_t align, std::size_t size) noexcept {
  if (align > (std::size_t{1} << 63)) {
    errno = EINVAL;
    return nullptr;
  }
  if (!rz::power_of_two(align))
    align = align <= 1 ? 1 : std::size_t{1} << (64 - __builtin_clzll(align));
  return rz::allocate_or_enomem(size, align);
}

void* valloc(std::size_t size) noexcept {
  return rz::allocate_or_enomem(size, rz::page_size);
}

void* pvalloc(std::size_t size) noexcept {
  if (size > SIZE_MAX - rz::page_size) {
    errno = ENOMEM;
    return nullptr;
  }
  std::size_t rounded = (size + rz::page_size - 1) & ~(rz::page_size - 1);
  return rz::allocate_or_enomem(rounded ? rounded : rz::page_size, rz::page_size);
}

std::size_t malloc_usable_size(void* ptr) noexcept {
  return rz::heap.usable_size(ptr);
}

}  // extern "C"

// ---- C++ --------------------------------------------------------------------

void* operator new(std::size_t size) {
  return rz::allocate_or_die(size, Heap::default_alignment);
}
void* operator new[](std::size_t size) {
  return rz::allocate_or_die(size, Heap::default_alignment);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return rz::allocate(size, Heap::default_alignment);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return rz::allocate(size, Heap::default_alignment);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return rz::allocate_or_die(size, rz::new_alignment(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return rz::allocate_or_die(size, rz::new_alignment(align));
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return rz::allocate(size, rz::new_alignment(align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return rz::allocate(size, rz::new_alignment(align));
}

void operator delete(void* ptr) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr) noexcept {
  rz::release(ptr);
}
void operator delete(void* ptr, std::size_t) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr, std::size_t) noexcept {
  rz::release(ptr);
}
void operator delete(void* ptr, const std::nothrow_t&) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr, const std::nothrow_t&) noexcept {
  rz::release(ptr);
}
void operator delete(void* ptr, std::align_val_t) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept {
  rz::release(ptr);
}
void operator delete(void* ptr, std::size_t, std::align_val_t) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr, std::size_t, std::align_val_t) noexcept {
  rz::release(ptr);
}
void operator delete(void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
  rz::release(ptr);
}
void operator delete[](void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
  rz::release(ptr);
}

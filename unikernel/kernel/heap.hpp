// The kernel heap: a TLSF (two-level segregated fit) allocator over one
// contiguous region. It keeps no global state and does no I/O, so the host
// tests drive it directly; kernel/malloc.cpp puts the kernel's one instance
// behind malloc() and operator new.
//
// Blocks tile the region, each starting with a 16-byte header:
//
//   prev_units  size of the physical predecessor, in 16-byte units (0: none)
//   units       size of this block, header included, in 16-byte units
//   tag         magic for used / free / end, plus a "predecessor is free" bit
//   slack       used blocks: bytes of the block past the requested size
//
// Free blocks keep their free-list links in the 16 bytes after the header,
// so the smallest block is 32 bytes (16 usable). Free blocks are coalesced
// with both neighbours at once, so two free blocks are never adjacent. Free
// lists are segregated by size: 32 classes per power of two (first level),
// and below 512 bytes one exact class per 16-byte size; two bitmaps find the
// smallest non-empty class that fits in a few bit operations. allocate(),
// free() and in-place reallocate() are O(1). A free block that shrinks or
// grows within its class keeps its place in the list, so carving small
// blocks off the big block at the end of the heap, and giving them back,
// touches no bitmap.
//
// Release mode: user pointer = header + 16, 16 bytes overhead per block.
// free() checks the header's magic and the successor's boundary tag (memory
// it touches anyway) and reports the double or invalid frees, and the
// overruns into the next header, that it sees.
//
// Debug mode (chosen at init): user pointer = header + 32, with 16 canary
// bytes between header and user area and at least 16 after it (the rest of
// the block); free() and reallocate() verify header, both neighbours' tags
// and both canaries; fresh memory is filled with 0xCD, freed memory with 0xDD.
//
// Errors go to the handler given at init; after it returns the operation is
// abandoned without touching the heap's structures (free() of a bad pointer
// does nothing, reallocate() returns nullptr, the block stays as it was).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rz {

enum class HeapError {
  double_free,   // free/realloc of a block that is already free
  invalid_free,  // free/realloc of a pointer that is not a block this heap handed out
  overrun,       // the canary after a user area was overwritten (debug mode)
  underrun,      // the canary before a user area was overwritten (debug mode)
  corrupted,     // a block header or free list is inconsistent
};

// A short description, e.g. "double free".
const char* describe(HeapError error) noexcept;

class Heap {
 public:
  // Called for every error the heap detects, with the pointer concerned (the
  // user pointer, or a block header for corruption found by check()). It may
  // return; the heap then abandons the operation.
  using ErrorHandler = void (*)(HeapError error, const void* ptr, void* context);

  struct Stats {
    std::size_t capacity;       // bytes of blocks (headers included) the heap manages
    std::size_t in_use;         // bytes requested by live allocations (not block sizes)
    std::size_t peak;           // highest in_use seen
    std::size_t live;           // allocations not yet freed
    std::uint64_t allocations;  // successful allocations ever (reallocate counts when it moves)
    std::uint64_t frees;        // frees ever (reallocate counts when it moves)
    std::uint64_t failures;     // allocations refused for lack of memory
    std::size_t free_bytes;     // bytes of free blocks, headers included
    std::size_t largest_free_block;  // bytes of the largest free block, header included
  };

  static constexpr std::size_t default_alignment = 16;  // alignof(std::max_align_t)
  static constexpr std::size_t header_size = 16;
  static constexpr std::size_t min_block = 32;
  // Block sizes are 32-bit counts of 16-byte units: a region larger than
  // this (64 GiB) is cut down to it.
  static constexpr std::size_t max_region = std::size_t{0xFFFFFFFF} * 16;

  constexpr Heap() = default;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Takes over [base, base + size): the heap's blocks live there, the
  // bookkeeping in this object (which must not move afterwards). May be
  // called again to start over with a new region.
  void init(void* base, std::size_t size, bool debug, ErrorHandler on_error,
            void* context = nullptr) noexcept;
  bool initialized() const noexcept { return end_ != nullptr; }
  bool debug() const noexcept { return debug_; }

  // At least `size` bytes aligned to `align` (a power of two; 0 and values
  // below 16 mean 16), or nullptr if there is no room or `align` is not a
  // power of two. Size 0 gives a unique pointer that must be freed.
  void* allocate(std::size_t size, std::size_t align = default_alignment) noexcept;
  // Frees a block from allocate()/reallocate(); nullptr does nothing.
  void free(void* ptr) noexcept;
  // Resizes a block, in place when it shrinks or the next block is free and
  // large enough, else by allocate + copy + free (alignment beyond 16 is then
  // not kept). nullptr allocates; size 0 keeps a zero-size block. On failure
  // returns nullptr and leaves `ptr` as it was.
  void* reallocate(void* ptr, std::size_t size) noexcept;

  // Bytes the caller may use at `ptr`: the whole block in release mode, the
  // requested size in debug mode (the rest is canary). 0 for nullptr.
  std::size_t usable_size(const void* ptr) const noexcept;
  // Whether `ptr` points into the heap's region.
  bool contains(const void* ptr) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(ptr);
    return a >= reinterpret_cast<std::uintptr_t>(first_) &&
           a < reinterpret_cast<std::uintptr_t>(end_);
  }

  Stats stats() const noexcept;
  // Walks every block and free list: boundary tags, magic, coalescing, list
  // links and bitmaps, the counters, and in debug mode every live block's
  // canaries. Reports each problem to the handler; true if there was none.
  bool check() const noexcept;

  struct Block;  // a block header (heap.cpp)

 private:
  static constexpr unsigned sl_log2 = 5;  // 32 second-level classes
  static constexpr unsigned sl_count = 1u << sl_log2;
  static constexpr unsigned fl_shift = sl_log2 + 4;        // below 2^9 bytes: exact 16-byte classes
  static constexpr unsigned fl_count = 36 - fl_shift + 1;  // blocks up to 2^36 bytes
  static constexpr std::size_t small_limit = std::size_t{1} << fl_shift;

  static void mapping(std::size_t bytes, unsigned& fl, unsigned& sl);
  std::size_t block_bytes_for(std::size_t size) const;
  void link(Block* b, unsigned fl, unsigned sl);
  void link(Block* b);
  void unlink(Block* b, unsigned fl, unsigned sl);
  void unlink(Block* b);
  void replace(Block* old, Block* b, unsigned fl, unsigned sl);
  void regrade(Block* b, std::size_t old_bytes);
  Block* find_free(std::size_t bytes, unsigned& fl, unsigned& sl);
  Block* find_free_slow(std::size_t bytes, unsigned& fl, unsigned& sl);
  void split(Block* b, std::size_t bytes, bool poison);
  void* hand_out(Block* b, std::size_t size);
  void* allocate_aligned(std::size_t bytes, std::size_t size, std::size_t align);
  void release(Block* b);
  Block* lookup(const void* ptr);
  const Block* validate(const void* ptr, bool canaries, HeapError& error) const;
  bool canaries_ok(const Block* b, HeapError& error) const;
  std::size_t requested(const Block* b) const;
  void report(HeapError error, const void* ptr) const;

  std::byte* first_ = nullptr;  // the first block
  Block* end_ = nullptr;        // the end marker: a header with no payload
  std::size_t lead_ = 0;        // block start to user pointer (set by init)
  std::size_t tail_ = 0;        // minimum canary after the user area
  bool debug_ = false;
  ErrorHandler on_error_ = nullptr;
  void* context_ = nullptr;

  std::size_t capacity_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
  std::size_t live_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t frees_ = 0;
  std::uint64_t failures_ = 0;
  std::size_t free_bytes_ = 0;

  std::uint32_t fl_bitmap_ = 0;
  std::uint32_t sl_bitmap_[fl_count] = {};
  Block* heads_[fl_count][sl_count] = {};
};

}  // namespace rz

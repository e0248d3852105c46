// The kernel heap: TLSF over one region. See heap.hpp for the layout.
#include "kernel/heap.hpp"

// The helpers on the hot paths, inlined so that their results stay in registers.
#define RZ_HEAP_INLINE [[gnu::always_inline]] inline

namespace rz {

struct Heap::Block {
  std::uint32_t prev_units;  // size of the physical predecessor (0 for the first block)
  std::uint32_t units;       // size of this block, header included, in 16-byte units
  std::uint32_t tag;         // tag_used / tag_free / tag_end, | prev_free
  std::uint32_t slack;       // used blocks: bytes after the requested size
  // Free blocks only, in what would be the user area (debug mode: the front canary).
  Block* next_free;
  Block* prev_free;
};

namespace {

using Block = Heap::Block;

// Magic values are even: bit 0 says whether the physical predecessor is free.
constexpr std::uint32_t prev_free = 1;
constexpr std::uint32_t tag_used = 0xA110C8E0;
constexpr std::uint32_t tag_free = 0xF4EEB10C;
constexpr std::uint32_t tag_end = 0xE0DB10C0;

constexpr unsigned char canary_byte = 0xFD;  // before and after every user area (debug)
constexpr unsigned char fresh_byte = 0xCD;   // newly allocated memory (debug)
constexpr unsigned char freed_byte = 0xDD;   // freed memory (debug)

constexpr std::size_t unit = 16;

inline std::uint32_t kind(const Block* b) {
  return b->tag & ~prev_free;
}
inline std::size_t bytes(const Block* b) {
  return std::size_t{b->units} * unit;
}
inline std::uintptr_t addr(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}
inline std::byte* raw(const Block* b) {
  return reinterpret_cast<std::byte*>(const_cast<Block*>(b));
}
inline Block* at(std::byte* p) {
  return reinterpret_cast<Block*>(p);
}
inline Block* next_block(const Block* b) {
  return at(raw(b) + bytes(b));
}
inline Block* prev_block(const Block* b) {
  return at(raw(b) - std::size_t{b->prev_units} * unit);
}
inline unsigned fls(std::size_t v) {
  return 63u - unsigned(__builtin_clzll(v));
}

inline void fill(std::byte* p, unsigned char value, std::size_t n) {
  __builtin_memset(p, value, n);
}
inline bool all(const std::byte* p, unsigned char value, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) != value) return false;
  }
  return true;
}

}  // namespace

const char* describe(HeapError error) noexcept {
  switch (error) {
    case HeapError::double_free:
      return "double free";
    case HeapError::invalid_free:
      return "invalid free (not a block from this heap)";
    case HeapError::overrun:
      return "buffer overrun (canary after the block overwritten)";
    case HeapError::underrun:
      return "buffer underrun (canary before the block overwritten)";
    case HeapError::corrupted:
      return "heap corrupted (inconsistent block header or free list)";
  }
  return "unknown heap error";
}

// ---- setup and bookkeeping --------------------------------------------------

void Heap::init(void* base, std::size_t size, bool debug, ErrorHandler on_error,
                void* context) noexcept {
  first_ = nullptr;
  end_ = nullptr;
  debug_ = debug;
  lead_ = debug ? header_size + unit : header_size;
  tail_ = debug ? unit : 0;
  on_error_ = on_error;
  context_ = context;
  capacity_ = in_use_ = peak_ = live_ = free_bytes_ = 0;
  allocations_ = frees_ = failures_ = 0;
  fl_bitmap_ = 0;
  for (auto& m : sl_bitmap_) m = 0;
  for (auto& row : heads_) {
    for (auto& h : row) h = nullptr;
  }

  std::uintptr_t start = (addr(base) + unit - 1) & ~(unit - 1);
  std::uintptr_t end = (addr(base) + size) & ~(unit - 1);
  if (size < 2 * unit || end <= start || end - start < min_block + header_size) return;
  if (end - start > max_region) end = start + max_region;

  first_ = reinterpret_cast<std::byte*>(start);
  end_ = at(reinterpret_cast<std::byte*>(end - header_size));
  Block* b = at(first_);
  b->prev_units = 0;
  b->units = std::uint32_t((end - header_size - start) / unit);
  b->tag = tag_free;
  b->slack = 0;
  end_->prev_units = b->units;
  end_->units = 0;
  end_->tag = tag_end | prev_free;
  end_->slack = 0;
  capacity_ = bytes(b);
  link(b);
  free_bytes_ = capacity_;
}

void Heap::report(HeapError error, const void* ptr) const {
  if (on_error_) on_error_(error, ptr, context_);
}

std::size_t Heap::requested(const Block* b) const {
  return bytes(b) - lead_ - b->slack;
}

std::size_t Heap::block_bytes_for(std::size_t size) const {
  std::size_t n = (size + lead_ + tail_ + unit - 1) & ~(unit - 1);
  return n < min_block ? min_block : n;
}

Heap::Stats Heap::stats() const noexcept {
  Stats s{};
  s.capacity = capacity_;
  s.in_use = in_use_;
  s.peak = peak_;
  s.live = live_;
  s.allocations = allocations_;
  s.frees = frees_;
  s.failures = failures_;
  s.free_bytes = free_bytes_;
  if (fl_bitmap_) {
    unsigned fl = 31u - unsigned(__builtin_clz(fl_bitmap_));
    unsigned sl = 31u - unsigned(__builtin_clz(sl_bitmap_[fl]));
    for (const Block* b = heads_[fl][sl]; b; b = b->next_free) {
      if (bytes(b) > s.largest_free_block) s.largest_free_block = bytes(b);
    }
  }
  return s;
}

// ---- free lists ---------------------------------------------------------------
//
// link/unlink/replace do not touch free_bytes_: their callers account for the
// bytes that change hands.

// The class of a block size: below small_limit one class per 16 bytes, above
// it 32 classes per power of two.
RZ_HEAP_INLINE void Heap::mapping(std::size_t n, unsigned& fl, unsigned& sl) {
  if (n < small_limit) {
    fl = 0;
    sl = unsigned(n / unit);
  } else {
    unsigned f = fls(n);
    sl = unsigned(n >> (f - sl_log2)) ^ sl_count;
    fl = f - fl_shift + 1;
  }
}

RZ_HEAP_INLINE void Heap::link(Block* b, unsigned fl, unsigned sl) {
  Block* head = heads_[fl][sl];
  b->next_free = head;
  b->prev_free = nullptr;
  if (head) head->prev_free = b;
  heads_[fl][sl] = b;
  fl_bitmap_ |= 1u << fl;
  sl_bitmap_[fl] |= 1u << sl;
}

RZ_HEAP_INLINE void Heap::link(Block* b) {
  unsigned fl, sl;
  mapping(bytes(b), fl, sl);
  link(b, fl, sl);
}

RZ_HEAP_INLINE void Heap::unlink(Block* b, unsigned fl, unsigned sl) {
  if (b->next_free) b->next_free->prev_free = b->prev_free;
  if (b->prev_free) {
    b->prev_free->next_free = b->next_free;
  } else {
    heads_[fl][sl] = b->next_free;
    if (!b->next_free) {
      sl_bitmap_[fl] &= ~(1u << sl);
      if (!sl_bitmap_[fl]) fl_bitmap_ &= ~(1u << fl);
    }
  }
}

RZ_HEAP_INLINE void Heap::unlink(Block* b) {
  unsigned fl, sl;
  mapping(bytes(b), fl, sl);
  unlink(b, fl, sl);
}

// `b` takes the place of `old` in their class's list.
RZ_HEAP_INLINE void Heap::replace(Block* old, Block* b, unsigned fl, unsigned sl) {
  b->next_free = old->next_free;
  b->prev_free = old->prev_free;
  if (b->next_free) b->next_free->prev_free = b;
  if (b->prev_free) {
    b->prev_free->next_free = b;
  } else {
    heads_[fl][sl] = b;
  }
}

// A listed free block grew from `old_bytes`: it moves only if its class changed
// (growing the large block at the end of the heap usually does not).
RZ_HEAP_INLINE void Heap::regrade(Block* b, std::size_t old_bytes) {
  unsigned ofl, osl, fl, sl;
  mapping(old_bytes, ofl, osl);
  mapping(bytes(b), fl, sl);
  if (ofl != fl || osl != sl) {
    unlink(b, ofl, osl);
    link(b, fl, sl);
  }
}

// A listed free block of at least `n` bytes, and its class: the head of the
// smallest non-empty class whose every block is large enough ("good fit").
RZ_HEAP_INLINE Heap::Block* Heap::find_free(std::size_t n, unsigned& fl, unsigned& sl) {
  std::size_t search = n;
  if (n >= small_limit) search += (std::size_t{1} << (fls(n) - sl_log2)) - 1;
  mapping(search, fl, sl);
  std::uint32_t sl_map = fl < fl_count ? sl_bitmap_[fl] & (~0u << sl) : 0;
  if (!sl_map) {
    std::uint32_t fl_map = fl + 1 < fl_count ? fl_bitmap_ & (~0u << (fl + 1)) : 0;
    if (!fl_map) [[unlikely]]
      return find_free_slow(n, fl, sl);
    fl = unsigned(__builtin_ctz(fl_map));
    sl_map = sl_bitmap_[fl];
  }
  sl = unsigned(__builtin_ctz(sl_map));
  Block* b = heads_[fl][sl];
  if (b->tag != tag_free || bytes(b) < n) [[unlikely]] {
    report(HeapError::corrupted, b);
    return nullptr;
  }
  return b;
}

// No class holds only blocks large enough; the class of `n` itself may still
// hold one (e.g. the whole heap when nearly all of it is asked for). Looks at
// a bounded number of its blocks.
Heap::Block* Heap::find_free_slow(std::size_t n, unsigned& fl, unsigned& sl) {
  if (n < small_limit) return nullptr;  // small classes are exact: already searched
  mapping(n, fl, sl);
  if (fl >= fl_count) return nullptr;
  int budget = 16;
  for (Block* b = heads_[fl][sl]; b && budget-- > 0; b = b->next_free) {
    if (b->tag != tag_free) [[unlikely]] {
      report(HeapError::corrupted, b);
      return nullptr;
    }
    if (bytes(b) >= n) return b;
  }
  return nullptr;
}

// Cuts a block that is in use (or about to be, and on no list) down to `n`
// bytes when the rest makes a block of its own; the rest joins a free
// successor and goes on a free list. Keeps the successor's prev_units and
// prev_free bit right for a used `b`.
void Heap::split(Block* b, std::size_t n, bool poison) {
  std::size_t have = bytes(b);
  if (have - n < min_block) {
    next_block(b)->tag &= ~prev_free;
    return;
  }
  Block* r = at(raw(b) + n);
  r->prev_units = std::uint32_t(n / unit);
  r->units = std::uint32_t((have - n) / unit);
  r->tag = tag_free;
  r->slack = 0;
  b->units = std::uint32_t(n / unit);
  free_bytes_ += bytes(r);
  if (poison) fill(raw(r) + header_size, freed_byte, bytes(r) - header_size);
  Block* after = next_block(r);
  if (kind(after) == tag_free) {
    unlink(after);
    r->units += after->units;
    after = next_block(r);
  }
  after->prev_units = r->units;
  after->tag |= prev_free;
  link(r);
}

// ---- allocate -----------------------------------------------------------------

RZ_HEAP_INLINE void* Heap::hand_out(Block* b, std::size_t size) {
  b->tag = tag_used | (b->tag & prev_free);
  b->slack = std::uint32_t(bytes(b) - lead_ - size);
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  ++live_;
  ++allocations_;
  std::byte* user = raw(b) + lead_;
  if (debug_) {
    fill(raw(b) + header_size, canary_byte, lead_ - header_size);
    fill(user, fresh_byte, size);
    fill(user + size, canary_byte, b->slack);
  }
  return user;
}

void* Heap::allocate(std::size_t size, std::size_t align) noexcept {
  if (size > capacity_) [[unlikely]] {
    ++failures_;
    return nullptr;
  }
  std::size_t n = block_bytes_for(size);
  // Alignments 0, 1, 2, 4, 8 and 16 need nothing special (a bit test: the
  // usual power-of-two check turns into a slow popcount without -mpopcnt).
  constexpr std::uint32_t plain_alignments = 0x10117;
  if (align > default_alignment || !((plain_alignments >> align) & 1)) [[unlikely]] {
    return allocate_aligned(n, size, align);
  }
  unsigned fl, sl;
  Block* b = find_free(n, fl, sl);
  if (!b) [[unlikely]] {
    ++failures_;
    return nullptr;
  }
  // Take the front of the free block. The successor of a free block is in
  // use, so the rest needs no merging; when it stays in the same class it
  // simply takes the block's place in the list.
  std::size_t have = bytes(b);
  free_bytes_ -= have;
  if (have - n >= min_block) {
    std::size_t rest = have - n;
    Block* r = at(raw(b) + n);
    auto rest_units = std::uint32_t(rest / unit);
    r->prev_units = std::uint32_t(n / unit);
    r->units = rest_units;
    r->tag = tag_free;
    r->slack = 0;
    b->units = std::uint32_t(n / unit);
    at(raw(r) + rest)->prev_units = rest_units;  // its prev_free bit stays set
    unsigned rfl, rsl;
    mapping(rest, rfl, rsl);
    if (rfl == fl && rsl == sl) {
      replace(b, r, fl, sl);
    } else {
      unlink(b, fl, sl);
      link(r, rfl, rsl);
    }
    free_bytes_ += rest;
  } else {
    unlink(b, fl, sl);
    next_block(b)->tag &= ~prev_free;
  }
  return hand_out(b, size);
}

void* Heap::allocate_aligned(std::size_t n, std::size_t size, std::size_t align) {
  if (align & (align - 1)) return nullptr;
  if (align > capacity_) {
    ++failures_;
    return nullptr;
  }
  // Room for the block, for moving the user pointer up to the alignment, and
  // for making the skipped front part a free block of its own.
  unsigned fl, sl;
  Block* b = find_free(n + align + min_block, fl, sl);
  if (!b) {
    ++failures_;
    return nullptr;
  }
  unlink(b, fl, sl);
  free_bytes_ -= bytes(b);
  std::uintptr_t user = (addr(b) + lead_ + align - 1) & ~(align - 1);
  std::size_t gap = user - lead_ - addr(b);
  if (gap != 0 && gap < min_block) gap += align;
  if (gap != 0) {
    // The front part stays free; its predecessor is in use (free blocks are
    // never adjacent), so it needs no merging.
    Block* a = at(raw(b) + gap);
    a->prev_units = std::uint32_t(gap / unit);
    a->units = std::uint32_t((bytes(b) - gap) / unit);
    a->tag = tag_free | prev_free;
    a->slack = 0;
    b->units = std::uint32_t(gap / unit);
    next_block(a)->prev_units = a->units;
    link(b);
    free_bytes_ += gap;
    b = a;
  }
  split(b, n, false);
  return hand_out(b, size);
}

// ---- free ---------------------------------------------------------------------

// Whether `ptr` is the user pointer of a block in use; the checks touch only
// the block's header and its neighbours' (which free() touches anyway), plus
// in debug mode both neighbours' consistency and the canaries.
RZ_HEAP_INLINE const Heap::Block* Heap::validate(const void* ptr, bool canaries,
                                                 HeapError& error) const {
  std::uintptr_t a = addr(ptr);
  if (!end_ || a < addr(first_) + lead_ || a >= addr(end_) || (a & (unit - 1))) {
    error = HeapError::invalid_free;
    return nullptr;
  }
  const Block* b = at(reinterpret_cast<std::byte*>(a - lead_));
  std::uint32_t k = kind(b);
  if (k != tag_used) {
    error = k == tag_free ? HeapError::double_free : HeapError::invalid_free;
    return nullptr;
  }
  error = HeapError::corrupted;
  if (b->units < min_block / unit || bytes(b) > addr(end_) - addr(b) ||
      b->slack > bytes(b) - lead_) {
    return nullptr;
  }
  const Block* n = next_block(b);
  if (n->prev_units != b->units) return nullptr;
  bool has_prev = b->prev_units != 0;
  if (has_prev != (raw(b) != first_) ||
      std::size_t{b->prev_units} * unit > std::size_t(raw(b) - first_)) {
    return nullptr;
  }
  if (b->tag & prev_free) {
    const Block* p = prev_block(b);
    if (!has_prev || p->tag != tag_free || p->units != b->prev_units) return nullptr;
  }
  if (debug_) {
    std::uint32_t nk = kind(n);
    if ((nk != tag_used && nk != tag_free && nk != tag_end) || (n->tag & prev_free)) return nullptr;
    if (has_prev) {
      const Block* p = prev_block(b);
      std::uint32_t pk = kind(p);
      if (p->units != b->prev_units || (pk != tag_used && pk != tag_free) ||
          (pk == tag_free) != bool(b->tag & prev_free)) {
        return nullptr;
      }
    }
    if (canaries && !canaries_ok(b, error)) return nullptr;
  }
  return b;
}

bool Heap::canaries_ok(const Block* b, HeapError& error) const {
  if (!all(raw(b) + header_size, canary_byte, lead_ - header_size)) {
    error = HeapError::underrun;
    return false;
  }
  if (!all(raw(b) + lead_ + requested(b), canary_byte, b->slack)) {
    error = HeapError::overrun;
    return false;
  }
  return true;
}

RZ_HEAP_INLINE Heap::Block* Heap::lookup(const void* ptr) {
  HeapError error;
  const Block* b = validate(ptr, true, error);
  if (!b) [[unlikely]] {
    report(error, ptr);
    return nullptr;
  }
  return const_cast<Block*>(b);
}

// Returns a validated block in use to the free lists, merged with free
// neighbours.
RZ_HEAP_INLINE void Heap::release(Block* b) {
  in_use_ -= requested(b);
  --live_;
  ++frees_;
  free_bytes_ += bytes(b);
  if (debug_) fill(raw(b) + header_size, freed_byte, bytes(b) - header_size);
  // The header keeps tag_free even when the block is merged into its
  // predecessor, so a second free() of the same pointer is a double free.
  b->tag = tag_free | (b->tag & prev_free);
  Block* n = next_block(b);
  bool next_is_free = kind(n) == tag_free;
  if (b->tag & prev_free) {
    // The predecessor grows over b (and n); it stays listed where it is
    // unless its class changes.
    Block* p = prev_block(b);
    std::size_t old = bytes(p);
    p->units += b->units;
    if (next_is_free) {
      unlink(n);
      p->units += n->units;
    }
    regrade(p, old);
    b = p;
  } else if (next_is_free) {
    // b swallows n and takes its place in the list if the class is the same.
    unsigned nfl, nsl, fl, sl;
    mapping(bytes(n), nfl, nsl);
    b->units += n->units;
    mapping(bytes(b), fl, sl);
    if (fl == nfl && sl == nsl) {
      replace(n, b, fl, sl);
    } else {
      unlink(n, nfl, nsl);
      link(b, fl, sl);
    }
  } else {
    link(b);
  }
  n = next_block(b);
  n->prev_units = b->units;
  n->tag |= prev_free;
}

void Heap::free(void* ptr) noexcept {
  if (!ptr) return;
  if (Block* b = lookup(ptr)) [[likely]]
    release(b);
}

// ---- reallocate ---------------------------------------------------------------

void* Heap::reallocate(void* ptr, std::size_t size) noexcept {
  if (!ptr) return allocate(size);
  Block* b = lookup(ptr);
  if (!b) return nullptr;
  if (size > capacity_) {
    ++failures_;
    return nullptr;
  }
  auto* user = static_cast<std::byte*>(ptr);
  std::size_t old = requested(b);
  std::size_t n = block_bytes_for(size);
  if (n > bytes(b)) {
    Block* next = next_block(b);
    if (kind(next) != tag_free || bytes(b) + bytes(next) < n) {
      void* moved = allocate(size);
      if (!moved) return nullptr;
      __builtin_memcpy(moved, ptr, old < size ? old : size);
      release(b);
      return moved;
    }
    // Grow into the free successor.
    unlink(next);
    free_bytes_ -= bytes(next);
    b->units += next->units;
    next_block(b)->prev_units = b->units;
    split(b, n, false);
  } else {
    split(b, n, debug_);
  }
  b->slack = std::uint32_t(bytes(b) - lead_ - size);
  in_use_ = in_use_ - old + size;
  if (in_use_ > peak_) peak_ = in_use_;
  if (debug_) {
    if (size > old) fill(user + old, fresh_byte, size - old);
    fill(user + size, canary_byte, b->slack);
  }
  return ptr;
}

std::size_t Heap::usable_size(const void* ptr) const noexcept {
  if (!ptr) return 0;
  HeapError error;
  const Block* b = validate(ptr, false, error);
  if (!b) return 0;
  return debug_ ? requested(b) : bytes(b) - lead_;
}

// ---- check --------------------------------------------------------------------

bool Heap::check() const noexcept {
  if (!end_) return true;
  bool ok = true;
  auto bad = [&](HeapError e, const void* p) {
    report(e, p);
    ok = false;
  };

  // Every block in address order.
  std::size_t free_count = 0, free_sum = 0, live = 0, in_use = 0;
  std::uint32_t expect_prev_units = 0;
  bool prev_was_free = false;
  const Block* b = at(first_);
  while (b != end_) {
    std::uint32_t k = kind(b);
    if ((k != tag_used && k != tag_free) || b->units < min_block / unit ||
        bytes(b) > addr(end_) - addr(b)) {
      bad(HeapError::corrupted, b);  // cannot find the next block
      return false;
    }
    if (b->prev_units != expect_prev_units || bool(b->tag & prev_free) != prev_was_free) {
      bad(HeapError::corrupted, b);
    }
    if (k == tag_free) {
      if (prev_was_free) bad(HeapError::corrupted, b);  // not coalesced
      ++free_count;
      free_sum += bytes(b);
    } else if (b->slack > bytes(b) - lead_) {
      bad(HeapError::corrupted, b);
    } else {
      ++live;
      in_use += requested(b);
      HeapError e;
      if (debug_ && !canaries_ok(b, e)) bad(e, raw(b) + lead_);
    }
    expect_prev_units = b->units;
    prev_was_free = k == tag_free;
    b = next_block(b);
  }
  if (kind(end_) != tag_end || end_->prev_units != expect_prev_units ||
      bool(end_->tag & prev_free) != prev_was_free) {
    bad(HeapError::corrupted, end_);
  }
  if (live != live_ || in_use != in_use_ || free_sum != free_bytes_) {
    bad(HeapError::corrupted, first_);
  }

  // Every free list: members free, in the right class, doubly linked; the
  // bitmaps match; together they hold exactly the free blocks found above.
  std::size_t listed = 0;
  for (unsigned fl = 0; fl < fl_count; ++fl) {
    if (bool(fl_bitmap_ & (1u << fl)) != (sl_bitmap_[fl] != 0)) bad(HeapError::corrupted, first_);
    for (unsigned sl = 0; sl < sl_count; ++sl) {
      const Block* head = heads_[fl][sl];
      if (bool(sl_bitmap_[fl] & (1u << sl)) != (head != nullptr)) bad(HeapError::corrupted, head);
      const Block* prev = nullptr;
      for (const Block* f = head; f; prev = f, f = f->next_free) {
        if (++listed > free_count || addr(f) < addr(first_) || addr(f) >= addr(end_) ||
            (addr(f) & (unit - 1)) || f->tag != tag_free) {
          bad(HeapError::corrupted, f);  // the links cannot be trusted any further
          return false;
        }
        unsigned f_fl, f_sl;
        mapping(bytes(f), f_fl, f_sl);
        if (f_fl != fl || f_sl != sl || f->prev_free != prev) bad(HeapError::corrupted, f);
      }
    }
  }
  if (listed != free_count) bad(HeapError::corrupted, first_);
  return ok;
}

}  // namespace rz

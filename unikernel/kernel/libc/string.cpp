// <string.h> for the kernel. The algorithms are in rz::libc (see
// string.hpp); the C symbols are only built into the kernel. The kernel
// compiles this file with -fno-builtin so the compiler cannot turn these
// loops back into calls to the functions they implement.
#include "kernel/libc/string.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace rz::libc {
namespace {

unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

// A set of bytes, for strspn and friends.
struct ByteSet {
  std::uint64_t bits[4] = {};

  explicit ByteSet(const char* chars) {
    for (auto* p = reinterpret_cast<const unsigned char*>(chars); *p; ++p)
      bits[*p / 64] |= std::uint64_t(1) << (*p % 64);
  }
  bool contains(char c) const {
    auto u = static_cast<unsigned char>(c);
    return (bits[u / 64] >> (u % 64)) & 1;
  }
};

}  // namespace

// ---- memory -----------------------------------------------------------------------

// Eight octets per load and store, then the tail. Not rep movsb / rep
// stosb: those are fastest on hardware with ERMS, but TCG (QEMU without
// KVM, where CI runs) emulates them an octet per iteration, which made a
// 1448-octet segment copy cost more than the rest of its path (TCP bulk
// download 30 -> 42 MiB/s with this loop, see `ringzero bench --only bulk`).
void* memcpy(void* dst, const void* src, std::size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  for (; n >= 8; n -= 8, d += 8, s += 8) {
    std::uint64_t w;
    __builtin_memcpy(&w, s, 8);
    __builtin_memcpy(d, &w, 8);
  }
  for (; n; --n) *d++ = *s++;
  return dst;
}

void* memset(void* dst, int c, std::size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  std::uint64_t w = 0x0101010101010101ull * static_cast<unsigned char>(c);
  for (; n >= 8; n -= 8, d += 8) __builtin_memcpy(d, &w, 8);
  for (; n; --n) *d++ = static_cast<unsigned char>(c);
  return dst;
}

void* memmove(void* dst, const void* src, std::size_t n) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  // Copying forwards is safe unless dst starts inside [src, src + n).
  if (reinterpret_cast<std::uintptr_t>(d) - reinterpret_cast<std::uintptr_t>(s) >= n)
    return memcpy(dst, src, n);
  // Backwards, eight bytes at a time (rep movsb with the direction flag set
  // has no fast path); each word is read before the write that could clobber it.
  while (n >= 8) {
    n -= 8;
    std::uint64_t w;
    __builtin_memcpy(&w, s + n, 8);
    __builtin_memcpy(d + n, &w, 8);
  }
  while (n) {
    --n;
    d[n] = s[n];
  }
  return dst;
}

int memcmp(const void* a, const void* b, std::size_t n) noexcept {
  auto* p = static_cast<const unsigned char*>(a);
  auto* q = static_cast<const unsigned char*>(b);
  for (; n >= 8; n -= 8, p += 8, q += 8) {  // skip equal words; the bytes tell the order
    std::uint64_t x, y;
    __builtin_memcpy(&x, p, 8);
    __builtin_memcpy(&y, q, 8);
    if (x != y) break;
  }
  for (; n; --n, ++p, ++q)
    if (*p != *q) return *p - *q;
  return 0;
}

void* memchr(const void* s, int c, std::size_t n) noexcept {
  auto* p = static_cast<const unsigned char*>(s);
  for (; n; --n, ++p)
    if (*p == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p);
  return nullptr;
}

void* memrchr(const void* s, int c, std::size_t n) noexcept {
  auto* p = static_cast<const unsigned char*>(s);
  while (n--)
    if (p[n] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p + n);
  return nullptr;
}

// ---- lengths and comparisons ------------------------------------------------------

std::size_t strlen(const char* s) noexcept {
  const char* p = s;
  while (*p) ++p;
  return std::size_t(p - s);
}

std::size_t strnlen(const char* s, std::size_t max) noexcept {
  std::size_t n = 0;
  while (n < max && s[n]) ++n;
  return n;
}

int strcmp(const char* a, const char* b) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(a);
  auto* q = reinterpret_cast<const unsigned char*>(b);
  for (; *p && *p == *q; ++p, ++q) {
  }
  return *p - *q;
}

int strncmp(const char* a, const char* b, std::size_t n) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(a);
  auto* q = reinterpret_cast<const unsigned char*>(b);
  for (; n; --n, ++p, ++q)
    if (*p != *q || !*p) return *p - *q;
  return 0;
}

int strcasecmp(const char* a, const char* b) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(a);
  auto* q = reinterpret_cast<const unsigned char*>(b);
  for (; *p && lower(*p) == lower(*q); ++p, ++q) {
  }
  return lower(*p) - lower(*q);
}

int strncasecmp(const char* a, const char* b, std::size_t n) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(a);
  auto* q = reinterpret_cast<const unsigned char*>(b);
  for (; n; --n, ++p, ++q)
    if (lower(*p) != lower(*q) || !*p) return lower(*p) - lower(*q);
  return 0;
}

// In the C locale, collation is byte order.
int strcoll(const char* a, const char* b) noexcept {
  return strcmp(a, b);
}

std::size_t strxfrm(char* dst, const char* src, std::size_t n) noexcept {
  std::size_t len = strlen(src);
  if (len < n) memcpy(dst, src, len + 1);
  return len;
}

// ---- copies -----------------------------------------------------------------------

char* stpcpy(char* dst, const char* src) noexcept {
  std::size_t len = strlen(src);
  memcpy(dst, src, len + 1);
  return dst + len;
}

char* strcpy(char* dst, const char* src) noexcept {
  stpcpy(dst, src);
  return dst;
}

char* strncpy(char* dst, const char* src, std::size_t n) noexcept {
  std::size_t len = strnlen(src, n);
  memcpy(dst, src, len);
  memset(dst + len, 0, n - len);
  return dst;
}

char* strcat(char* dst, const char* src) noexcept {
  stpcpy(dst + strlen(dst), src);
  return dst;
}

char* strncat(char* dst, const char* src, std::size_t n) noexcept {
  char* end = dst + strlen(dst);
  std::size_t len = strnlen(src, n);
  memcpy(end, src, len);
  end[len] = '\0';
  return dst;
}

char* strdup(const char* s) noexcept {
  std::size_t len = strlen(s);
  auto* copy = static_cast<char*>(std::malloc(len + 1));
  if (copy) memcpy(copy, s, len + 1);
  return copy;
}

char* strndup(const char* s, std::size_t max) noexcept {
  std::size_t len = strnlen(s, max);
  auto* copy = static_cast<char*>(std::malloc(len + 1));
  if (!copy) return nullptr;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

// ---- searches ---------------------------------------------------------------------

char* strchr(const char* s, int c) noexcept {
  for (;; ++s) {
    if (*s == static_cast<char>(c)) return const_cast<char*>(s);
    if (!*s) return nullptr;
  }
}

char* strrchr(const char* s, int c) noexcept {
  const char* found = nullptr;
  for (;; ++s) {
    if (*s == static_cast<char>(c)) found = s;
    if (!*s) return const_cast<char*>(found);
  }
}

// The simple search: O(haystack × needle) at worst, which the kernel's short
// strings never approach.
char* strstr(const char* haystack, const char* needle) noexcept {
  std::size_t n = strlen(needle);
  if (!n) return const_cast<char*>(haystack);
  for (; (haystack = strchr(haystack, needle[0])); ++haystack)
    if (strncmp(haystack, needle, n) == 0) return const_cast<char*>(haystack);
  return nullptr;
}

std::size_t strspn(const char* s, const char* accept) noexcept {
  ByteSet set(accept);
  std::size_t n = 0;
  while (s[n] && set.contains(s[n])) ++n;
  return n;
}

std::size_t strcspn(const char* s, const char* reject) noexcept {
  ByteSet set(reject);
  std::size_t n = 0;
  while (s[n] && !set.contains(s[n])) ++n;
  return n;
}

char* strpbrk(const char* s, const char* accept) noexcept {
  s += strcspn(s, accept);
  return *s ? const_cast<char*>(s) : nullptr;
}

// ---- error messages ---------------------------------------------------------------

char* strerror(int errnum) noexcept {
  struct Message {
    int code;
    const char* text;
  };
  // glibc's texts, so logs read the same as on Linux.
  static constexpr Message messages[] = {
      {0, "Success"},
      {EPERM, "Operation not permitted"},
      {ENOENT, "No such file or directory"},
      {ESRCH, "No such process"},
      {EINTR, "Interrupted system call"},
      {EIO, "Input/output error"},
      {ENXIO, "No such device or address"},
      {E2BIG, "Argument list too long"},
      {ENOEXEC, "Exec format error"},
      {EBADF, "Bad file descriptor"},
      {ECHILD, "No child processes"},
      {EAGAIN, "Resource temporarily unavailable"},
      {ENOMEM, "Cannot allocate memory"},
      {EACCES, "Permission denied"},
      {EFAULT, "Bad address"},
      {ENOTBLK, "Block device required"},
      {EBUSY, "Device or resource busy"},
      {EEXIST, "File exists"},
      {EXDEV, "Invalid cross-device link"},
      {ENODEV, "No such device"},
      {ENOTDIR, "Not a directory"},
      {EISDIR, "Is a directory"},
      {EINVAL, "Invalid argument"},
      {ENFILE, "Too many open files in system"},
      {EMFILE, "Too many open files"},
      {ENOTTY, "Inappropriate ioctl for device"},
      {ETXTBSY, "Text file busy"},
      {EFBIG, "File too large"},
      {ENOSPC, "No space left on device"},
      {ESPIPE, "Illegal seek"},
      {EROFS, "Read-only file system"},
      {EMLINK, "Too many links"},
      {EPIPE, "Broken pipe"},
      {EDOM, "Numerical argument out of domain"},
      {ERANGE, "Numerical result out of range"},
      {EDEADLK, "Resource deadlock avoided"},
      {ENAMETOOLONG, "File name too long"},
      {ENOLCK, "No locks available"},
      {ENOSYS, "Function not implemented"},
      {ENOTEMPTY, "Directory not empty"},
      {ELOOP, "Too many levels of symbolic links"},
      {ENOMSG, "No message of desired type"},
      {EIDRM, "Identifier removed"},
      {ECHRNG, "Channel number out of range"},
      {EL2NSYNC, "Level 2 not synchronized"},
      {EL3HLT, "Level 3 halted"},
      {EL3RST, "Level 3 reset"},
      {ELNRNG, "Link number out of range"},
      {EUNATCH, "Protocol driver not attached"},
      {ENOCSI, "No CSI structure available"},
      {EL2HLT, "Level 2 halted"},
      {EBADE, "Invalid exchange"},
      {EBADR, "Invalid request descriptor"},
      {EXFULL, "Exchange full"},
      {ENOANO, "No anode"},
      {EBADRQC, "Invalid request code"},
      {EBADSLT, "Invalid slot"},
      {EBFONT, "Bad font file format"},
      {ENOSTR, "Device not a stream"},
      {ENODATA, "No data available"},
      {ETIME, "Timer expired"},
      {ENOSR, "Out of streams resources"},
      {ENONET, "Machine is not on the network"},
      {ENOPKG, "Package not installed"},
      {EREMOTE, "Object is remote"},
      {ENOLINK, "Link has been severed"},
      {EADV, "Advertise error"},
      {ESRMNT, "Srmount error"},
      {ECOMM, "Communication error on send"},
      {EPROTO, "Protocol error"},
      {EMULTIHOP, "Multihop attempted"},
      {EDOTDOT, "RFS specific error"},
      {EBADMSG, "Bad message"},
      {EOVERFLOW, "Value too large for defined data type"},
      {ENOTUNIQ, "Name not unique on network"},
      {EBADFD, "File descriptor in bad state"},
      {EREMCHG, "Remote address changed"},
      {ELIBACC, "Can not access a needed shared library"},
      {ELIBBAD, "Accessing a corrupted shared library"},
      {ELIBSCN, ".lib section in a.out corrupted"},
      {ELIBMAX, "Attempting to link in too many shared libraries"},
      {ELIBEXEC, "Cannot exec a shared library directly"},
      {EILSEQ, "Invalid or incomplete multibyte or wide character"},
      {ERESTART, "Interrupted system call should be restarted"},
      {ESTRPIPE, "Streams pipe error"},
      {EUSERS, "Too many users"},
      {ENOTSOCK, "Socket operation on non-socket"},
      {EDESTADDRREQ, "Destination address required"},
      {EMSGSIZE, "Message too long"},
      {EPROTOTYPE, "Protocol wrong type for socket"},
      {ENOPROTOOPT, "Protocol not available"},
      {EPROTONOSUPPORT, "Protocol not supported"},
      {ESOCKTNOSUPPORT, "Socket type not supported"},
      {EOPNOTSUPP, "Operation not supported"},
      {EPFNOSUPPORT, "Protocol family not supported"},
      {EAFNOSUPPORT, "Address family not supported by protocol"},
      {EADDRINUSE, "Address already in use"},
      {EADDRNOTAVAIL, "Cannot assign requested address"},
      {ENETDOWN, "Network is down"},
      {ENETUNREACH, "Network is unreachable"},
      {ENETRESET, "Network dropped connection on reset"},
      {ECONNABORTED, "Software caused connection abort"},
      {ECONNRESET, "Connection reset by peer"},
      {ENOBUFS, "No buffer space available"},
      {EISCONN, "Transport endpoint is already connected"},
      {ENOTCONN, "Transport endpoint is not connected"},
      {ESHUTDOWN, "Cannot send after transport endpoint shutdown"},
      {ETOOMANYREFS, "Too many references: cannot splice"},
      {ETIMEDOUT, "Connection timed out"},
      {ECONNREFUSED, "Connection refused"},
      {EHOSTDOWN, "Host is down"},
      {EHOSTUNREACH, "No route to host"},
      {EALREADY, "Operation already in progress"},
      {EINPROGRESS, "Operation now in progress"},
      {ESTALE, "Stale file handle"},
      {EUCLEAN, "Structure needs cleaning"},
      {ENOTNAM, "Not a XENIX named type file"},
      {ENAVAIL, "No XENIX semaphores available"},
      {EISNAM, "Is a named type file"},
      {EREMOTEIO, "Remote I/O error"},
      {EDQUOT, "Disk quota exceeded"},
      {ENOMEDIUM, "No medium found"},
      {EMEDIUMTYPE, "Wrong medium type"},
      {ECANCELED, "Operation canceled"},
      {ENOKEY, "Required key not available"},
      {EKEYEXPIRED, "Key has expired"},
      {EKEYREVOKED, "Key has been revoked"},
      {EKEYREJECTED, "Key was rejected by service"},
      {EOWNERDEAD, "Owner died"},
      {ENOTRECOVERABLE, "State not recoverable"},
      {ERFKILL, "Operation not possible due to RF-kill"},
      {EHWPOISON, "Memory page has hardware error"},
  };
  for (const Message& m : messages)
    if (m.code == errnum) return const_cast<char*>(m.text);

  static char unknown[32] = "Unknown error ";
  constexpr std::size_t prefix = sizeof("Unknown error ") - 1;
  char digits[12];
  int n = 0;
  unsigned magnitude = errnum < 0 ? 0u - unsigned(errnum) : unsigned(errnum);
  do {
    digits[n++] = char('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  std::size_t i = prefix;
  if (errnum < 0) unknown[i++] = '-';
  while (n) unknown[i++] = digits[--n];
  unknown[i] = '\0';
  return unknown;
}

}  // namespace rz::libc

#ifdef RINGZERO_KERNEL
// The C symbols. No glibc <string.h> here: in C++ it declares strchr and
// friends as const-correct overloads that a C definition would clash with.
using std::size_t;

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) noexcept {
  return rz::libc::memcpy(dst, src, n);
}
void* memmove(void* dst, const void* src, size_t n) noexcept {
  return rz::libc::memmove(dst, src, n);
}
void* memset(void* dst, int c, size_t n) noexcept {
  return rz::libc::memset(dst, c, n);
}
int memcmp(const void* a, const void* b, size_t n) noexcept {
  return rz::libc::memcmp(a, b, n);
}
// The compiler turns memcmp(...) == 0 into bcmp, which only reports equality.
int bcmp(const void* a, const void* b, size_t n) noexcept {
  return rz::libc::memcmp(a, b, n);
}
void* memchr(const void* s, int c, size_t n) noexcept {
  return rz::libc::memchr(s, c, n);
}
void* memrchr(const void* s, int c, size_t n) noexcept {
  return rz::libc::memrchr(s, c, n);
}
size_t strlen(const char* s) noexcept {
  return rz::libc::strlen(s);
}
size_t strnlen(const char* s, size_t max) noexcept {
  return rz::libc::strnlen(s, max);
}
int strcmp(const char* a, const char* b) noexcept {
  return rz::libc::strcmp(a, b);
}
int strncmp(const char* a, const char* b, size_t n) noexcept {
  return rz::libc::strncmp(a, b, n);
}
int strcasecmp(const char* a, const char* b) noexcept {
  return rz::libc::strcasecmp(a, b);
}
int strncasecmp(const char* a, const char* b, size_t n) noexcept {
  return rz::libc::strncasecmp(a, b, n);
}
int strcoll(const char* a, const char* b) noexcept {
  return rz::libc::strcoll(a, b);
}
size_t strxfrm(char* dst, const char* src, size_t n) noexcept {
  return rz::libc::strxfrm(dst, src, n);
}
char* strcpy(char* dst, const char* src) noexcept {
  return rz::libc::strcpy(dst, src);
}
char* strncpy(char* dst, const char* src, size_t n) noexcept {
  return rz::libc::strncpy(dst, src, n);
}
char* stpcpy(char* dst, const char* src) noexcept {
  return rz::libc::stpcpy(dst, src);
}
char* strcat(char* dst, const char* src) noexcept {
  return rz::libc::strcat(dst, src);
}
char* strncat(char* dst, const char* src, size_t n) noexcept {
  return rz::libc::strncat(dst, src, n);
}
char* strchr(const char* s, int c) noexcept {
  return rz::libc::strchr(s, c);
}
char* strrchr(const char* s, int c) noexcept {
  return rz::libc::strrchr(s, c);
}
char* strstr(const char* haystack, const char* needle) noexcept {
  return rz::libc::strstr(haystack, needle);
}
size_t strspn(const char* s, const char* accept) noexcept {
  return rz::libc::strspn(s, accept);
}
size_t strcspn(const char* s, const char* reject) noexcept {
  return rz::libc::strcspn(s, reject);
}
char* strpbrk(const char* s, const char* accept) noexcept {
  return rz::libc::strpbrk(s, accept);
}
char* strdup(const char* s) noexcept {
  return rz::libc::strdup(s);
}
char* strndup(const char* s, size_t max) noexcept {
  return rz::libc::strndup(s, max);
}
char* strerror(int errnum) noexcept {
  return rz::libc::strerror(errnum);
}
// Message catalogs (libstdc++'s exception texts ask for them): there are no
// translations, so every message is its own.
char* gettext(const char* message) noexcept {
  return const_cast<char*>(message);
}

}  // extern "C"
#endif

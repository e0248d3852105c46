// What the toolchain's C++ runtime (libstdc++, libsupc++, libgcc_eh) expects
// from the system beneath it, for a single-threaded kernel in one image:
// thread-local storage, global constructors, the unwinder's lookup of
// .eh_frame_hdr, static-local guards, pure virtual calls, and
// std::terminate() turned into a crash report.
#include "kernel/cxxrt.hpp"

#include <cxxabi.h>
#include <link.h>

#include <cstring>
#include <exception>
#include <ringzero/os.hpp>
#include <typeinfo>

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "kernel/panic.hpp"

extern "C" char __image_start[], __image_end[];
extern "C" char __eh_frame_hdr_start[], __eh_frame_hdr_end[];
extern "C" char __tdata_start[], __tdata_end[], __tbss_end[];
using InitFunction = void (*)();
extern "C" InitFunction __init_array_start[], __init_array_end[];

namespace rz::cxxrt {
namespace {

// The TLS block for the one CPU (x86_64 "variant II"): the TLS image ends at
// the thread pointer, which points at a TCB whose first word points to
// itself; %fs:0x28 holds the stack protector canary (glibc's layout, which
// code built for Linux assumes).
constexpr std::size_t tls_align = 64;  // linker.ld aligns .tdata to this
constexpr std::size_t tls_max = 4096;
constexpr std::size_t tcb_size = 64;
alignas(tls_align) char tls_block[tls_max + tcb_size];

std::size_t align_up(std::size_t v, std::size_t a) {
  return (v + a - 1) & ~(a - 1);
}

}  // namespace

void init_tls() {
  std::size_t image = std::size_t(__tdata_end - __tdata_start);
  std::size_t total = align_up(std::size_t(__tbss_end - __tdata_start), tls_align);
  if (total > tls_max) panic("TLS needs %zu bytes, the kernel has %zu", total, tls_max);
  std::memcpy(tls_block, __tdata_start, image);
  std::memset(tls_block + image, 0, total - image);
  auto* tcb = reinterpret_cast<std::uint64_t*>(tls_block + total);
  tcb[0] = reinterpret_cast<std::uint64_t>(tcb);    // self pointer (%fs:0)
  tcb[2] = reinterpret_cast<std::uint64_t>(tcb);    // glibc's "self" slot
  tcb[5] = clock::rdtsc() * 0x9E3779B97F4A7C15ull;  // stack protector canary, varies per boot
  cpu::wrmsr(cpu::MSR_FS_BASE, reinterpret_cast<std::uint64_t>(tcb));
}

void run_constructors() {
  for (InitFunction* f = __init_array_start; f != __init_array_end; ++f) (*f)();
}

}  // namespace rz::cxxrt

// ---- The unwinder's view of the one loaded object --------------------------

namespace {

ElfW(Phdr) image_phdrs[2];

void fill_phdrs() {
  if (image_phdrs[0].p_type == PT_LOAD) return;
  auto start = reinterpret_cast<ElfW(Addr)>(__image_start);
  image_phdrs[0] = {.p_type = PT_LOAD,
                    .p_flags = PF_R | PF_W | PF_X,
                    .p_offset = 0,
                    .p_vaddr = start,
                    .p_paddr = start,
                    .p_filesz = ElfW(Xword)(__image_end - __image_start),
                    .p_memsz = ElfW(Xword)(__image_end - __image_start),
                    .p_align = 4096};
  auto hdr = reinterpret_cast<ElfW(Addr)>(__eh_frame_hdr_start);
  auto hdr_size = ElfW(Xword)(__eh_frame_hdr_end - __eh_frame_hdr_start);
  image_phdrs[1] = {.p_type = PT_GNU_EH_FRAME,
                    .p_flags = PF_R,
                    .p_offset = 0,
                    .p_vaddr = hdr,
                    .p_paddr = hdr,
                    .p_filesz = hdr_size,
                    .p_memsz = hdr_size,
                    .p_align = 4};
}

}  // namespace

extern "C" int dl_iterate_phdr(int (*callback)(dl_phdr_info*, std::size_t, void*), void* data) {
  fill_phdrs();
  dl_phdr_info info{};
  info.dlpi_addr = 0;
  info.dlpi_name = "";
  info.dlpi_phdr = image_phdrs;
  info.dlpi_phnum = 2;
  info.dlpi_adds = 1;
  info.dlpi_subs = 0;
  return callback(&info, sizeof(info), data);
}

// glibc 2.35's fast path, which libgcc's unwinder uses when built against it.
extern "C" int _dl_find_object(void* pc, dl_find_object* result) {
  if (pc < static_cast<void*>(__image_start) || pc >= static_cast<void*>(__image_end)) return -1;
  std::memset(result, 0, sizeof(*result));
  result->dlfo_map_start = __image_start;
  result->dlfo_map_end = __image_end;
  result->dlfo_eh_frame = __eh_frame_hdr_start;
  return 0;
}

// ---- ABI hooks ----------------------------------------------------------------

// Static locals: one thread, so a guard is just a "done" byte. (Defining these
// keeps libsupc++'s futex-based versions out of the image.)
namespace __cxxabiv1 {
extern "C" int __cxa_guard_acquire(__guard* guard) {
  return *reinterpret_cast<volatile char*>(guard) == 0;
}
extern "C" void __cxa_guard_release(__guard* guard) noexcept {
  *reinterpret_cast<volatile char*>(guard) = 1;
}
extern "C" void __cxa_guard_abort(__guard*) noexcept {}
}  // namespace __cxxabiv1

extern "C" void __cxa_pure_virtual() {
  rz::panic("pure virtual function called");
}
extern "C" void __cxa_deleted_virtual() {
  rz::panic("deleted virtual function called");
}

namespace {

[[noreturn]] void on_terminate() {
  if (std::exception_ptr current = std::current_exception()) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    const char* name = type ? type->name() : "?";
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      rz::fatal(os::exit_status::uncaught_exception, "uncaught exception of type %s: %s", name,
                e.what());
    } catch (...) {
      rz::fatal(os::exit_status::uncaught_exception, "uncaught exception of type %s", name);
    }
  }
  rz::fatal(os::exit_status::uncaught_exception, "std::terminate() called");
}

}  // namespace

// libsupc++ keeps the default terminate handler in this variable; defining it
// here replaces the verbose handler (and the stdio and demangler it pulls in).
namespace __cxxabiv1 {
extern std::terminate_handler __terminate_handler;
std::terminate_handler __terminate_handler = on_terminate;
}  // namespace __cxxabiv1

#include "arch/x86_64/crash.hpp"

#include <unwind.h>

#include <ringzero/os.hpp>

#include "arch/x86_64/stacks.hpp"
#include "kernel/console.hpp"
#include "kernel/libc/format.hpp"
#include "kernel/os_internal.hpp"
#include "kernel/panic.hpp"

extern "C" char __image_start[], __text_end[];

namespace rz::crash {
namespace {

constexpr int max_frames = 32;
int depth = 0;  // > 0 while a report is being written

const char* exception_name(std::uint64_t v) {
  static const char* const names[] = {
      "#DE divide error",
      "#DB debug",
      "NMI",
      "#BP breakpoint",
      "#OF overflow",
      "#BR bound range exceeded",
      "#UD invalid opcode",
      "#NM device not available",
      "#DF double fault",
      "coprocessor segment overrun",
      "#TS invalid TSS",
      "#NP segment not present",
      "#SS stack-segment fault",
      "#GP general protection",
      "#PF page fault",
      "reserved",
      "#MF x87 floating point",
      "#AC alignment check",
      "#MC machine check",
      "#XM SIMD floating point",
      "#VE virtualization",
      "#CP control protection",
  };
  return v < sizeof(names) / sizeof(names[0]) ? names[v] : "reserved";
}

bool in_text(std::uintptr_t a) {
  return a >= reinterpret_cast<std::uintptr_t>(__image_start) &&
         a < reinterpret_cast<std::uintptr_t>(__text_end);
}

// A second fault while reporting: say so with as little machinery as
// possible and stop.
[[noreturn]] void nested_crash() {
  console::write("\n*** ringzero crash: fault while writing a crash report\n");
  os_internal::exit_vm(os::exit_status::panic);
}

void begin(const char* what_fmt, ...) {
  if (depth++ > 0) nested_crash();
  cpu::disable_interrupts();
  console::write("\n*** ringzero crash: ");
  va_list ap;
  va_start(ap, what_fmt);
  char buf[256];
  int n = libc::vsnprintf(buf, sizeof(buf), what_fmt, ap);
  va_end(ap);
  console::write(buf, n < 0 ? 0 : (n < int(sizeof(buf)) ? n : sizeof(buf) - 1));
  console::write("\n");
}

[[noreturn]] void end(int status) {
  console::write("*** end of crash report\n");
  os_internal::exit_vm(status);
}

void describe_page_fault(const cpu::InterruptFrame& f) {
  std::uintptr_t cr2 = cpu::read_cr2();
  const char* access = (f.error & (1u << 4))   ? "instruction fetch from"
                       : (f.error & (1u << 1)) ? "write to"
                                               : "read from";
  const char* why = (f.error & 1u) ? "a protected page" : "an unmapped page";
  const char* which = "";
  if (cr2 >= stacks::boot_guard() && cr2 < stacks::boot_guard() + stacks::page_size)
    which = " (stack overflow: the boot stack's guard page)";
  for (int i = 0; i < stacks::ist_count; ++i)
    if (cr2 >= stacks::ist_guard(i) && cr2 < stacks::ist_guard(i) + stacks::page_size)
      which = " (stack overflow: an interrupt stack's guard page)";
  if (cr2 < stacks::page_size) which = " (null pointer)";
  console::print("fault: %s %s at 0x%016lx%s\n", access, why, cr2, which);
}

// The frames of the frame-pointer chain, numbered from n.
void walk_frames(int n, std::uintptr_t rip, std::uintptr_t rbp, std::uintptr_t rsp) {
  if (rip) console::print("  #%d 0x%016lx\n", n++, rip);
  // A fault outside the text (a call into data, a jump to garbage) happened
  // before the callee could set up a frame: its caller's return address is
  // the word at the top of the stack.
  stacks::Range stack;
  if (rip && !in_text(rip) && stacks::find(rsp, stack) && rsp + 8 <= stack.top) {
    std::uintptr_t ret = *reinterpret_cast<const std::uintptr_t*>(rsp);
    if (in_text(ret)) console::print("  #%d 0x%016lx\n", n++, ret);
  }
  std::uintptr_t fp = rbp;
  while (n < max_frames && fp && (fp & 7) == 0 && stacks::find(fp, stack) && fp + 16 <= stack.top) {
    auto* words = reinterpret_cast<const std::uintptr_t*>(fp);
    std::uintptr_t next = words[0], ret = words[1];
    if (!in_text(ret)) break;
    console::print("  #%d 0x%016lx\n", n++, ret);
    // Frames grow towards higher addresses; a chain that goes back down on
    // the same stack is broken.
    if (stack.contains(next) && next <= fp) break;
    fp = next;
  }
}

}  // namespace

void print_backtrace(std::uintptr_t rip, std::uintptr_t rbp, std::uintptr_t rsp) {
  console::write("backtrace:\n");
  walk_frames(0, rip, rbp, rsp);
}

void cpu_exception(const cpu::InterruptFrame& f) {
  begin("CPU exception %lu (%s), error code 0x%lx", f.vector, exception_name(f.vector), f.error);
  if (f.vector == 14) describe_page_fault(f);
  console::print(
      "rip %016lx rsp %016lx rbp %016lx rflags %016lx\n"
      "rax %016lx rbx %016lx rcx %016lx rdx %016lx\n"
      "rsi %016lx rdi %016lx r8  %016lx r9  %016lx\n"
      "r10 %016lx r11 %016lx r12 %016lx r13 %016lx\n"
      "r14 %016lx r15 %016lx cr2 %016lx cr3 %016lx\n",
      f.rip, f.rsp, f.rbp, f.rflags, f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.r8, f.r9, f.r10,
      f.r11, f.r12, f.r13, f.r14, f.r15, cpu::read_cr2(), cpu::read_cr3());
  print_backtrace(f.rip, f.rbp, f.rsp);
  end(os::exit_status::cpu_exception);
}

namespace {

struct UnwindState {
  int frames;
};

_Unwind_Reason_Code print_unwound_frame(_Unwind_Context* context, void* arg) {
  auto* state = static_cast<UnwindState*>(arg);
  std::uintptr_t ip = _Unwind_GetIP(context);
  if (!ip || state->frames >= max_frames) return _URC_END_OF_STACK;
  console::print("  #%d 0x%016lx\n", state->frames++, ip);
  return _URC_NO_REASON;
}

}  // namespace

void report(int status, std::uintptr_t rbp, const char* fmt, va_list ap) {
  char buf[256];
  libc::vsnprintf(buf, sizeof(buf), fmt, ap);
  begin("%s", buf);
  // From here (not a trap frame) the DWARF unwinder can walk through code
  // built without frame pointers, such as libstdc++'s; the frame-pointer
  // walk is the fallback.
  console::write("backtrace:\n");
  UnwindState state{0};
  _Unwind_Backtrace(print_unwound_frame, &state);
  if (state.frames == 0) walk_frames(0, 0, rbp, 0);
  end(status);
}

}  // namespace rz::crash

namespace rz {

void panic(const char* fmt, ...) {
  char buf[240];
  va_list ap;
  va_start(ap, fmt);
  libc::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  fatal(os::exit_status::panic, "panic: %s", buf);
}

void fatal(int status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  crash::report(status, reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)), fmt, ap);
}

}  // namespace rz

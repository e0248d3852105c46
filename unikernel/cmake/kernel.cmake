# Flags, the kernel library and add_ringzero_service().
#
# The kernel is built with the host triple (x86_64-pc-linux-gnu) so that the
# toolchain's own libstdc++/libsupc++/libgcc_eh can be linked in; ringzero's
# libc (kernel/libc) provides the C ABI those archives expect.

set(RINGZERO_ROOT ${CMAKE_CURRENT_SOURCE_DIR})

# The GCC runtime archives that give services the C++ standard library.
execute_process(COMMAND g++ -print-file-name=libstdc++.a
                OUTPUT_VARIABLE RINGZERO_LIBSTDCXX OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND g++ -print-file-name=libsupc++.a
                OUTPUT_VARIABLE RINGZERO_LIBSUPCXX OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND g++ -print-file-name=libgcc.a
                OUTPUT_VARIABLE RINGZERO_LIBGCC OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND g++ -print-file-name=libgcc_eh.a
                OUTPUT_VARIABLE RINGZERO_LIBGCC_EH OUTPUT_STRIP_TRAILING_WHITESPACE)
foreach(lib RINGZERO_LIBSTDCXX RINGZERO_LIBSUPCXX RINGZERO_LIBGCC RINGZERO_LIBGCC_EH)
  if(NOT IS_ABSOLUTE "${${lib}}" OR NOT EXISTS "${${lib}}")
    message(FATAL_ERROR "${lib} not found (${${lib}}): install g++ (apt-get install g++)")
  endif()
endforeach()

find_program(RINGZERO_OBJCOPY NAMES llvm-objcopy objcopy REQUIRED)

# Flags every kernel and service object is built with.
add_library(ringzero_flags INTERFACE)
target_compile_options(ringzero_flags INTERFACE
  -Wall -Wextra -Werror
  -fno-pic -fno-pie -mcmodel=small
  -mno-red-zone
  -fno-stack-protector
  -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
  -ffunction-sections -fdata-sections
  -fno-plt
  -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=0
  $<$<COMPILE_LANGUAGE:CXX>:-fno-threadsafe-statics>
)
target_compile_definitions(ringzero_flags INTERFACE
  RINGZERO_KERNEL=1
  RINGZERO_VERSION="${RINGZERO_VERSION}"
)
target_include_directories(ringzero_flags INTERFACE ${RINGZERO_ROOT}/include ${RINGZERO_ROOT})

set(RINGZERO_KERNEL_SOURCES
  arch/x86_64/boot.S
  arch/x86_64/isr.S
  arch/x86_64/cpu.cpp
  arch/x86_64/paging.cpp
  arch/x86_64/interrupts.cpp
  arch/x86_64/apic.cpp
  arch/x86_64/ioapic.cpp
  arch/x86_64/clock.cpp
  arch/x86_64/crash.cpp
  drivers/serial.cpp
  drivers/pci.cpp
  drivers/virtqueue.cpp
  drivers/virtio_net.cpp
  kernel/main.cpp
  kernel/console.cpp
  kernel/multiboot.cpp
  kernel/heap.cpp
  kernel/malloc.cpp
  kernel/timers.cpp
  kernel/eventloop.cpp
  kernel/os.cpp
  kernel/cxxrt.cpp
  kernel/libc/string.cpp
  kernel/libc/format.cpp
  kernel/libc/stdio.cpp
  kernel/libc/stdlib.cpp
  kernel/libc/ctype.cpp
  kernel/libc/posix.cpp
)
list(TRANSFORM RINGZERO_KERNEL_SOURCES PREPEND ${RINGZERO_ROOT}/)

# The network stack (net/): the core, also built for the host tests and the
# fuzzer (tests/CMakeLists.txt), and the kernel-only glue (timers, console).
set(RINGZERO_NET_CORE_SOURCES
  net/packet.cpp
  net/addresses.cpp
  net/counters.cpp
  net/ethernet.cpp
  net/arp.cpp
  net/ipv4.cpp
  net/ipv4_reassembly.cpp
  net/icmp.cpp
  net/udp.cpp
  net/tcp_segment.cpp
  net/tcp_isn.cpp
  net/tcp_buffer.cpp
  net/tcp.cpp
  net/dhcp.cpp
  net/dns.cpp
  net/dns_server.cpp
  net/dns_resolver.cpp
  net/http_parser.cpp
  net/http_server.cpp
  net/stack.cpp
)
list(TRANSFORM RINGZERO_NET_CORE_SOURCES PREPEND ${RINGZERO_ROOT}/)
set(RINGZERO_NET_SOURCES ${RINGZERO_NET_CORE_SOURCES} ${RINGZERO_ROOT}/net/kernel_glue.cpp
    ${RINGZERO_ROOT}/net/http_glue.cpp)
list(APPEND RINGZERO_KERNEL_SOURCES ${RINGZERO_NET_SOURCES})

add_library(ringzero_kernel STATIC ${RINGZERO_KERNEL_SOURCES})
target_link_libraries(ringzero_kernel PUBLIC ringzero_flags)
# The string functions must not be turned back into calls to themselves.
set_source_files_properties(${RINGZERO_ROOT}/kernel/libc/string.cpp PROPERTIES COMPILE_OPTIONS "-fno-builtin")

set(RINGZERO_LINKER_SCRIPT ${RINGZERO_ROOT}/arch/x86_64/linker.ld)

# add_ringzero_service(NAME SOURCES...)
#   Builds NAME.elf (with symbols, for the harness's symbolizer) and NAME.img
#   (stripped, the bootable image), and prints the image size.
function(add_ringzero_service name)
  set(elf ${name}.elf)
  add_executable(${elf} ${ARGN})
  set_target_properties(${elf} PROPERTIES OUTPUT_NAME ${name} SUFFIX .elf
                        LINK_DEPENDS ${RINGZERO_LINKER_SCRIPT})
  target_link_libraries(${elf} PRIVATE ringzero_flags)
  target_link_options(${elf} PRIVATE
    -fuse-ld=lld -nostdlib -static -no-pie
    -Wl,-T,${RINGZERO_LINKER_SCRIPT}
    -Wl,--gc-sections -Wl,--eh-frame-hdr -Wl,--build-id=none
    -Wl,-z,max-page-size=4096 -Wl,-z,norelro -Wl,-z,noexecstack
    -Wl,--no-undefined
    -Wl,-Map,${CMAKE_CURRENT_BINARY_DIR}/${name}.map
  )
  # Whole kernel first, then the C++ runtime archives, resolved as a group.
  target_link_libraries(${elf} PRIVATE
    -Wl,--start-group
    $<TARGET_FILE:ringzero_kernel>
    ${RINGZERO_LIBSTDCXX} ${RINGZERO_LIBSUPCXX} ${RINGZERO_LIBGCC} ${RINGZERO_LIBGCC_EH}
    -Wl,--end-group
  )
  add_dependencies(${elf} ringzero_kernel)
  set(img ${CMAKE_CURRENT_BINARY_DIR}/${name}.img)
  add_custom_command(
    OUTPUT ${img}
    COMMAND ${RINGZERO_OBJCOPY} --strip-all $<TARGET_FILE:${elf}> ${img}
    COMMAND ${CMAKE_COMMAND} -DIMAGE=${img} -P ${RINGZERO_ROOT}/cmake/print_size.cmake
    DEPENDS ${elf}
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${img})
endfunction()

# Prints the size of a built image: cmake -DIMAGE=path -P print_size.cmake
file(SIZE "${IMAGE}" size)
math(EXPR kib "(${size} + 1023) / 1024")
get_filename_component(name "${IMAGE}" NAME)
message(STATUS "image ${name}: ${size} bytes (${kib} KiB)")

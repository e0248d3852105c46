/* Interrupt and exception entry.
 *
 * 256 stubs of 16 bytes each at isr_stubs + 16 * vector. Each pushes a dummy
 * error code when the CPU pushes none, then the vector, and jumps to
 * isr_common, which saves the general registers and the SSE state (services
 * and libstdc++ use SSE freely) and calls interrupt_dispatch(frame). The frame
 * layout matches struct InterruptFrame in cpu.hpp.
 *
 * Every gate uses an IST stack (see cpu.cpp), so the interrupted code's stack,
 * including the red zone of code built without -mno-red-zone, is never
 * written to.
 */
        .section .text.isr, "ax"
        .code64
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set vector, 0
        .rept 256
        .balign 16
        /* Vectors for which the CPU pushes an error code (SDM Vol. 3 6.13). */
        .if (vector == 8) || (vector == 10) || (vector == 11) || (vector == 12) || (vector == 13) || (vector == 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
        .else
        pushq $0
        .endif
        pushq $vector
        jmp isr_common
        .set vector, vector + 1
        .endr

isr_common:
        push %rax
        push %rbx
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %rbp
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, %rbx                  /* the frame; rbx survives the call */
        sub $512, %rsp
        and $~15, %rsp
        fxsave (%rsp)
        mov %rbx, %rdi
        call interrupt_dispatch
        fxrstor (%rsp)
        mov %rbx, %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rbp
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rbx
        pop %rax
        add $16, %rsp                   /* vector and error code */
        iretq

/* Entry from a multiboot (v1) loader into x86_64 long mode.
 *
 * The loader leaves us in 32-bit protected mode with paging off, EAX holding
 * the multiboot magic and EBX the physical address of the multiboot info.
 * We zero .bss, identity-map the first 4 GiB with 2 MiB pages (the kernel
 * refines this map in paging.cpp), enable PAE + long mode + paging, load a
 * 64-bit GDT, enable SSE and call kernel_main(magic, info) on the boot stack.
 */
#define MB_MAGIC 0x1BADB002
/* bit 1: memory map wanted; bit 16: the address fields below are valid */
#define MB_FLAGS ((1 << 1) | (1 << 16))

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)

#define BOOT_STACK_SIZE (64 * 1024)

        .section .multiboot, "a"
        .balign 4
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long multiboot_header   /* header_addr */
        .long __image_start      /* load_addr */
        .long __load_end         /* load_end_addr */
        .long __bss_end          /* bss_end_addr */
        .long _start32           /* entry_addr */

        .section .boot.text, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        mov %eax, %esi                  /* multiboot magic, kept until kernel_main */
        mov %ebx, boot_info_saved       /* multiboot info */
        rdtsc
        mov %eax, boot_tsc_entry
        mov %edx, boot_tsc_entry + 4

        /* Zero .bss: page tables and stacks live there. */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        shr $2, %ecx
        xor %eax, %eax
        rep stosl

        /* Long mode available? (CPUID 0x80000001 EDX bit 29) */
        mov $0x80000000, %eax
        cpuid
        cmp $0x80000001, %eax
        jb no_long_mode
        mov $0x80000001, %eax
        cpuid
        bt $29, %edx
        jnc no_long_mode

        /* PML4[0] -> PDPT; PDPT[0..3] -> PD[0..3]; PD entries: 2 MiB pages. */
        mov $page_pdpt, %eax
        or $0x3, %eax
        mov %eax, page_pml4
        mov $page_pd, %eax
        or $0x3, %eax
        mov $page_pdpt, %edi
        mov $4, %ecx
1:      mov %eax, (%edi)
        add $4096, %eax
        add $8, %edi
        loop 1b
        mov $page_pd, %edi
        mov $0x83, %eax                 /* present, writable, 2 MiB */
        xor %edx, %edx
        mov $2048, %ecx
2:      mov %eax, (%edi)
        mov %edx, 4(%edi)
        add $0x200000, %eax
        adc $0, %edx
        add $8, %edi
        loop 2b

        mov $page_pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
        mov %eax, %cr4
        mov $MSR_EFER, %ecx
        rdmsr
        or $EFER_LME, %eax
        wrmsr
        mov %cr0, %eax
        and $~CR0_EM, %eax
        or $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
        mov %eax, %cr0

        lgdt gdt_pointer
        ljmp $0x08, $long_mode_entry

no_long_mode:
        /* Say why on COM1 and stop (isa-debug-exit, status 121). */
        mov $no_long_mode_msg, %esi
3:      lodsb
        test %al, %al
        jz 4f
        mov $0x3F8, %dx
        out %al, %dx
        jmp 3b
4:      mov $0xF4, %dx
        mov $121, %eax
        out %eax, %dx
5:      hlt
        jmp 5b

        .code64
long_mode_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        xor %ax, %ax
        mov %ax, %fs
        mov %ax, %gs
        lea boot_stack_top(%rip), %rsp
        xor %ebp, %ebp                  /* end of the frame-pointer chain */
        mov %esi, %edi                  /* arg 0: multiboot magic */
        mov boot_info_saved(%rip), %esi /* arg 1: multiboot info */
        call kernel_main
6:      cli
        hlt
        jmp 6b

        .section .rodata
no_long_mode_msg:
        .asciz "ringzero: this CPU has no 64-bit long mode\r\n"

        .section .data
        .balign 8
        .globl boot_tsc_entry
boot_tsc_entry:
        .quad 0
boot_info_saved:
        .quad 0

        /* Null, kernel code (64-bit), kernel data, then a TSS descriptor
         * (two slots) that cpu.cpp fills in. */
        .balign 16
        .globl gdt
gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF
        .quad 0x00CF92000000FFFF
        .quad 0
        .quad 0
gdt_end:
        .balign 8
        .globl gdt_pointer
gdt_pointer:
        .word gdt_end - gdt - 1
        .quad gdt

        .section .bss.pagetables, "aw", @nobits
        .balign 4096
        .globl page_pml4, page_pdpt, page_pd
page_pml4:
        .skip 4096
page_pdpt:
        .skip 4096
page_pd:
        .skip 4 * 4096

        /* The boot stack, with an unmapped guard page below it. */
        .section .bss.stacks, "aw", @nobits
        .balign 4096
        .globl boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:
        .skip 4096
boot_stack_bottom:
        .skip BOOT_STACK_SIZE
boot_stack_top:

        /* Interrupt stacks (TSS IST1..3), each with a guard page below. */
#define IST_STACK_SIZE (16 * 1024)
        .balign 4096
        .globl ist_stacks
ist_stacks:
        .rept 3
        .skip 4096
        .skip IST_STACK_SIZE
        .endr
        .globl ist_stacks_end
ist_stacks_end:

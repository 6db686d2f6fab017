"""Hand-written blocks, one per llvm-mca dependency rule and CPU (rule name, cpu, AT&T lines).

Each block's total cycles in llvm-mca depend on the rule; blocksim 2 departed from
llvm-mca on every one of them (issue 16). Used by tests/test_blocksim_rules.py (exact
agreement with llvm-mca) and bench/blocksim_bench.py (the "rules" sample).
"""

from __future__ import annotations

RULES: list[tuple[str, str, list[str]]] = [
    # a second destination is written, not read (MULX's low half; VGATHER's mask)
    ("mulx_second_destination", "znver3", ["mulxq %rsi, %rax, %rbx"]),
    ("mulx_second_destination", "haswell", ["mulxq %rsi, %rax, %rbx", "addq %rbx, %rcx"]),
    ("gather_mask_writeback", "haswell", ["vpgatherdd %ymm2, (%rdi,%ymm1,4), %ymm0"]),
    ("gather_mask_writeback", "skylake", ["vgatherdps %xmm2, (%rdi,%xmm1,4), %xmm0"]),
    # implicit operands: string instructions, XLAT, PCMPxSTRM's xmm0, AL/AX short forms
    ("string_implicit_registers", "znver3", ["movsq (%rsi), %es:(%rdi)"]),
    ("string_implicit_registers", "haswell", ["stosq %rax, %es:(%rdi)", "addq %rdi, %rcx"]),
    ("string_implicit_registers", "skylake", ["lodsb (%rsi), %al", "addb %al, %cl"]),
    ("xlat_implicit_registers", "znver3", ["xlatb"]),
    ("pcmpistrm_writes_xmm0", "haswell", ["pcmpistrm $1, %xmm2, %xmm1", "paddd %xmm0, %xmm1"]),
    ("pcmpestrm_reads_eax_edx", "znver3", ["pcmpestrm $1, %xmm2, %xmm1", "addl $1, %eax"]),
    ("accumulator_short_form", "znver3", ["addl $1000, %eax"]),
    ("accumulator_short_form", "skylake", ["andb $1, %al", "imull %eax, %ecx"]),
    # POPCNT is no stack instruction
    ("popcnt_is_not_pop", "znver3", ["popcntq %rax, %rbx", "popq %rcx"]),
    ("popcnt_is_not_pop", "haswell", ["popcntl %eax, %ebx"]),
    # ReadAdvance per use index (load + op forms)
    ("read_advance_adc_memory", "znver3", ["adcl (%rdi), %eax"]),
    ("read_advance_sbb_memory", "znver3", ["sbbq 8(%rdi), %rax", "adcq %rax, %rbx"]),
    ("read_advance_cmov_memory", "haswell", ["cmovael (%rdi), %eax", "cmpl %eax, %ecx"]),
    ("read_advance_xadd_memory", "znver3", ["xaddl %eax, (%rdi)"]),
    ("read_advance_xadd_memory", "skylake", ["xaddq %rax, (%rdi)", "addq %rax, %rax"]),
    # partial-register writes and sub-register reads
    ("partial_write_16bit", "znver3", ["imull %eax, %eax", "movw $1, %ax"]),
    ("partial_write_8bit", "znver2", ["imull %ecx, %ecx", "movb %al, %cl"]),
    ("partial_write_own_previous", "znver3", ["movb %dl, %al"]),
    ("partial_write_high8", "znver3", ["imull %eax, %eax", "movb $1, %ah", "addl %eax, %ecx"]),
    ("subregister_read", "haswell", ["imull %eax, %eax", "movw $1, %ax", "addl %eax, %ecx"]),
    ("subregister_read", "skylake", ["movb $1, %al", "imull %eax, %eax"]),
    # dependency-breaking idioms as each model defines them
    ("idiom_pandn_keeps_dependence", "haswell", ["pandn %xmm0, %xmm0", "paddd %xmm0, %xmm0"]),
    ("idiom_andnps_keeps_dependence", "skylake", ["andnps %xmm1, %xmm1", "mulps %xmm1, %xmm1"]),
    ("idiom_mmx_pxor_keeps_dependence", "haswell", ["pxor %mm0, %mm0", "paddd %mm0, %mm0"]),
    ("idiom_zero_xor", "znver3", ["xorl %eax, %eax", "imull %eax, %eax"]),
    ("idiom_zero_vpxor", "znver2", ["vpxor %xmm1, %xmm1, %xmm1", "vpmulld %xmm1, %xmm1, %xmm1"]),
    ("idiom_cmp_same", "znver3", ["cmpl %eax, %eax", "sbbl %ecx, %ecx"]),
    ("idiom_pcmpeq", "skylake", ["pcmpeqd %xmm3, %xmm3", "pmulld %xmm3, %xmm3"]),
    # serializing instructions (CPUID's registers, FNSTSW's FPSW)
    ("serializing_cpuid", "znver3", ["cpuid", "addl %eax, %ebx"]),
    ("serializing_fnstsw", "haswell", ["fadd %st(1), %st", "fnstsw %ax", "testb $1, %ah"]),
    # eliminated register moves
    ("move_elimination", "znver3", ["movq %rax, %rbx", "imulq %rbx, %rax"]),
    ("move_elimination", "znver3", ["vmovaps %ymm0, %ymm1", "vmulps %ymm1, %ymm1, %ymm0"]),
    # a 32-bit move is eliminated too (its destination is renamed as the 64-bit register,
    # which it clears); a 16-bit one is not
    ("move_elimination_32bit", "znver3", ["imull %eax, %ebp", "movl %ebp, %eax", "movl $1, %ebp"]),
    ("move_elimination_32bit", "znver4", ["imull %eax, %ebp", "movl %ebp, %eax", "popq %rbp"]),
    ("move_elimination_16bit_not", "znver2", ["imulw %ax, %bp", "movw %bp, %ax", "movw $1, %bp"]),
    # a group an instruction needs whole is reserved (no other use meanwhile)
    ("reserved_group_div", "haswell", ["divl %ecx", "addl %esi, %edi", "addl %r8d, %r9d"]),
    ("reserved_group_div", "skylake", ["idivq %rcx", "orq %rsi, %rdi", "andq %r8, %r9"]),
    # a LOCK prefix belongs to its instruction
    ("lock_prefix", "znver3", ["lock cmpxchgl %ecx, (%rdi)", "addl $1, %eax"]),
    ("lock_prefix", "skylake", ["lock addq $1, (%rdi)"]),
    # LLVM 22's znver4 model
    ("znver4_zero_idiom", "znver4", ["vpxord %zmm1, %zmm1, %zmm1", "vpmulld %zmm1, %zmm1, %zmm2"]),
    ("znver4_partial_write", "znver4", ["imull %eax, %eax", "movw $1, %ax", "addl %eax, %ecx"]),
    ("znver4_string", "znver4", ["movsq (%rsi), %es:(%rdi)"]),
    # LLVM 22's llvm-mca drops PUSH/POP's RSP write (its "stack engine"); LLVM 14 keeps it
    ("znver4_stack_engine_pop", "znver4", ["popq %rbx", "popq %rbp", "popq %r12"]),
    ("znver4_stack_engine_push", "znver4", ["pushq %rax", "addq $8, %rsp"]),
    ("znver4_stack_engine_reads_rsp", "znver4", ["addq $8, %rsp", "popq %rbx"]),
    ("znver4_stack_engine_16bit", "znver4", ["popw %ax", "popw %bx"]),
    ("znver4_stack_engine_16bit", "znver4", ["pushw $1", "addq $8, %rsp"]),
    ("znver4_apx_pop2_keeps_rsp", "znver4", ["pop2 %rax, %rbx"]),
    ("stack_pop_chain_llvm14", "znver3", ["popq %rbx", "popq %rbp"]),
    ("stack_push_chain_llvm14", "haswell", ["pushq $1", "addq $8, %rsp"]),
]

/* vos_fast_entry: where every rewritten syscall site's trampoline slot jumps
 * (see rewrite.c). In the `vos_exempt` section, so its syscall instruction
 * is never trapped.
 *
 * On entry: rsp = the application's rsp - 128 (red zone stepped over),
 * rax = the syscall number, rdi rsi rdx r10 r8 r9 = its arguments,
 * r11 = the slot's data { resume address, slow address }. rcx and r11 are
 * free: the syscall instruction clobbers them anyway. Everything else the
 * kernel would preserve is preserved: the argument registers here, the
 * callee-saved ones by the C ABI, and the vector registers C code and
 * libc's string functions may write (xmm, or ymm, or zmm0-31 and k0-7, as
 * the CPU has them; stored by hand: xsavec costs ~150 ns here), except the
 * flags. x87 and MXCSR state is left alone: libvos does not change it.
 *
 * vos_fast_call answers:
 *   NATIVE  run the call here, natively, with the application's mask; a
 *           restarted call (SA_RESTART, restart_syscall) re-executes this
 *           syscall instruction with the registers as they were;
 *   DONE    rax = the result (served by a domain or emulated);
 *   SLOW    the call needs the trap path: jump to the site's own syscall
 *           instruction with the registers as they were.
 * and execution continues after the site (resume) in all but SLOW. */
	.section vos_exempt,"ax",@progbits
	.globl vos_fast_entry
	.hidden vos_fast_entry
	.hidden vos_fast_call
	.hidden vos_vec_level
	.type vos_fast_entry,@function
	.p2align 4
vos_fast_entry:
	push %r11		/* slot data */
	push %rbp
	mov %rsp, %rbp
	push %r9		/* -8:  a[5] */
	push %r8		/* -16: a[4] */
	push %r10		/* -24: a[3] */
	push %rdx		/* -32: a[2] */
	push %rsi		/* -40: a[1] */
	push %rdi		/* -48: a[0] */
	push %rax		/* -56: nr */
	sub $16, %rsp		/* -64: value, -72: action */
	sub $2176, %rsp		/* vector registers, 64-byte aligned */
	and $-64, %rsp
	cmpb $1, vos_vec_level(%rip)
	jb 10f
	je 11f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, \i*64(%rsp)
	.endr
	.irp i, 0,1,2,3,4,5,6,7
	kmovq %k\i, 2048+\i*8(%rsp)
	.endr
	jmp 12f
11:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu %ymm\i, \i*32(%rsp)
	.endr
	jmp 12f
10:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu %xmm\i, \i*16(%rsp)
	.endr
12:
	cld
	mov -56(%rbp), %rdi
	lea -48(%rbp), %rsi
	call vos_fast_call
	mov %rax, -72(%rbp)
	mov %rdx, -64(%rbp)
	cmpb $1, vos_vec_level(%rip)
	jb 20f
	je 21f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 \i*64(%rsp), %zmm\i
	.endr
	.irp i, 0,1,2,3,4,5,6,7
	kmovq 2048+\i*8(%rsp), %k\i
	.endr
	jmp 22f
21:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu \i*32(%rsp), %ymm\i
	.endr
	jmp 22f
20:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu \i*16(%rsp), %xmm\i
	.endr
22:
	mov -48(%rbp), %rdi
	mov -40(%rbp), %rsi
	mov -32(%rbp), %rdx
	mov -24(%rbp), %r10
	mov -16(%rbp), %r8
	mov -8(%rbp), %r9
	mov -72(%rbp), %rcx
	mov -56(%rbp), %rax
	cmp $1, %rcx
	cmove -64(%rbp), %rax
	leave			/* rsp -> slot data */
	test %rcx, %rcx
	jz 1f
	pop %r11
	lea 128(%rsp), %rsp
	cmp $2, %rcx
	je 2f
	jmp *(%r11)		/* DONE: resume after the site */
2:	jmp *8(%r11)		/* SLOW: the site's syscall instruction traps */
1:	xor %r11d, %r11d	/* NATIVE; r11 != 0 once started (sigdefer.c) */
	.globl vos_fast_native_insn
	.hidden vos_fast_native_insn
vos_fast_native_insn:
	syscall
	pop %rcx
	lea 128(%rsp), %rsp
	jmp *(%rcx)
	.size vos_fast_entry, .-vos_fast_entry
	ud2

	.section .note.GNU-stack,"",@progbits

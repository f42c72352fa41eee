/* vos_fast_entry: where every rewritten syscall site's trampoline slot jumps
 * (see rewrite.c). In the `vos_exempt` section, so its syscall instructions
 * are never trapped.
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
 * First stage: a call vos_fast_class (rewrite.c) says is local (by its
 * number, or by an fd absent from the remote fd table) runs natively at
 * once, clobbering only rcx, r11 and the flags; everything below is the
 * full path, for the rest.
 *
 * The application's stack may be tiny (a goroutine's): it only gets the
 * red zone and a 40-byte frame. C runs on a per-thread private stack
 * (its top in the thread's %gs block, see thread_block.h; set up by the
 * trap path); without one, or while it is in
 * use (a handler of a synchronous fault nested in C), the call takes the
 * trap path.
 *
 * vos_fast_call answers:
 *   NATIVE   run the call here, natively, on the application's stack and
 *            mask; a restarted call (SA_RESTART, restart_syscall)
 *            re-executes this syscall instruction with the same registers;
 *   DONE     rax = the result (served by a domain or emulated);
 *   SLOW     the call needs the trap path: jump to the site's own syscall
 *            instruction with the registers as they were;
 *   RESTART  run the call again (after the handlers of the signals that
 *            interrupted it);
 * and stores the signals it deferred: they are unblocked back on the
 * application's stack, so their handlers run there, before it resumes. */
	.section vos_exempt,"ax",@progbits
	.globl vos_fast_entry
	.hidden vos_fast_entry
	.hidden vos_fast_call
	.hidden vos_vec_level
	.type vos_fast_entry,@function

/* the frame on the application's stack, from rsp after the prologue */
#define A_DEFERRED 0
#define A_VALUE	   8
#define A_ACTION   16
#define A_RBP	   24
#define A_SLOT	   32
#define A_SIZE	   40

/* thread_block.h's VOS_TB_FAST_TOP and VOS_TB_FAST_BUSY */
#define TB_FAST_TOP  8
#define TB_FAST_BUSY 16

/* rewrite.c's vos_fast_class values, and fdtable.c's size */
#define FAST_LOCAL    1
#define FAST_FD4      3
#define NCLASS	      512
#define FD_TABLE_SIZE 65536

	.hidden vos_fast_class
	.hidden vos_fd_entries
	.hidden vos_fast_counting
	.hidden vos_fast_local_n

	.p2align 4
vos_fast_entry:
	push %r11		/* A_SLOT (and the native path's slot data) */
	/* First stage: a call vos_dispatch never routes runs natively now,
	 * touching only rcx, r11 and the flags, as syscall would. An unsigned
	 * compare: negative numbers and x32 ones take the full path. */
	cmp $NCLASS, %rax
	jae .Lfull
	lea vos_fast_class(%rip), %rcx
	movzbl (%rcx,%rax), %ecx
	cmp $FAST_LOCAL, %ecx
	jb .Lfull
	je .Llocal
	mov %edi, %r11d		/* the kernel reads an fd as unsigned int */
	cmp $FAST_FD4, %ecx
	jne 1f
	mov %r8d, %r11d
1:	cmp $FD_TABLE_SIZE, %r11d
	jae .Llocal
	lea vos_fd_entries(%rip), %rcx
	mov (%rcx,%r11,8), %rcx
	test %rcx, %rcx		/* bit 63: a remote fd */
	js .Lfull
.Llocal:
	cmpb $0, vos_fast_counting(%rip)
	jne .Lcount
.Llocal_run:
	xor %r11d, %r11d	/* r11 != 0 once started (sigdefer.c) */
	jmp vos_fast_native_insn
.Lcount:
	lock incq vos_fast_local_n(%rip)
	jmp .Llocal_run
.Lfull:
	mov (%rsp), %r11
	push %rbp		/* A_RBP */
	sub $24, %rsp		/* A_ACTION, A_VALUE, A_DEFERRED */
	movq $0, A_DEFERRED(%rsp)
	mov %rsp, %rbp		/* the application-side frame */
	/* atomically: a handler of a synchronous fault nested in C may get
	 * here while the stack is in use */
	mov $1, %r11d
	xchg %r11, %gs:TB_FAST_BUSY
	test %r11, %r11
	jnz .Lno_stack
	mov %gs:TB_FAST_TOP, %r11
	test %r11, %r11
	jz .Lunbusy
	mov %r11, %rsp		/* onto the private stack */
	push %rbp		/* -0: the application-side frame */
	mov %rsp, %rbp
	push %r9		/* -8:  a[5] */
	push %r8		/* -16: a[4] */
	push %r10		/* -24: a[3] */
	push %rdx		/* -32: a[2] */
	push %rsi		/* -40: a[1] */
	push %rdi		/* -48: a[0] */
	push %rax		/* -56: nr */
	sub $2184, %rsp		/* vector registers, 64-byte aligned */
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
	mov (%rbp), %rdx
	add $A_DEFERRED, %rdx
	call vos_fast_call
	mov (%rbp), %rcx
	mov %rax, A_ACTION(%rcx)
	mov %rdx, A_VALUE(%rcx)
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
	mov -56(%rbp), %rax
	mov (%rbp), %rsp	/* back on the application's stack */
	mov %rsp, %rbp
	movq $0, %gs:TB_FAST_BUSY	/* not busy: handlers may use it */
	cmpq $0, A_DEFERRED(%rsp)
	je 1f
	/* rt_sigprocmask(SIG_UNBLOCK, &deferred, NULL, 8): the handlers of
	 * the signals deferred during the call run as it returns, here */
	push %rax
	push %rdi
	push %rsi
	push %rdx
	push %r10
	mov $14, %eax
	mov $1, %edi
	lea 40+A_DEFERRED(%rsp), %rsi
	xor %edx, %edx
	mov $8, %r10d
	syscall
	pop %r10
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rax
1:	mov A_ACTION(%rsp), %rcx
	cmp $1, %rcx
	je .Ldone
	cmp $2, %rcx
	je .Lslow
	cmp $3, %rcx
	je .Lrestart
	/* NATIVE */
	mov A_RBP(%rsp), %rbp
	add $A_SLOT, %rsp	/* rsp -> slot data */
	xor %r11d, %r11d	/* r11 != 0 once started (sigdefer.c) */
	.globl vos_fast_native_insn
	.hidden vos_fast_native_insn
vos_fast_native_insn:
	syscall
	pop %rcx
	lea 128(%rsp), %rsp
	jmp *(%rcx)
.Ldone:
	mov A_VALUE(%rsp), %rax
	mov A_RBP(%rsp), %rbp
	mov A_SLOT(%rsp), %rcx
	lea A_SIZE+128(%rsp), %rsp
	jmp *(%rcx)		/* resume after the site */
.Lrestart:
	mov A_RBP(%rsp), %rbp
	mov A_SLOT(%rsp), %r11
	add $A_SIZE, %rsp
	jmp vos_fast_entry
.Lunbusy:
	movq $0, %gs:TB_FAST_BUSY
.Lno_stack:
.Lslow:
	mov A_RBP(%rsp), %rbp
	mov A_SLOT(%rsp), %r11
	lea A_SIZE+128(%rsp), %rsp
	jmp *8(%r11)		/* the site's syscall instruction traps */
	.size vos_fast_entry, .-vos_fast_entry
	ud2

	.section .note.GNU-stack,"",@progbits

/* Code that must execute syscalls without being trapped by Syscall User
 * Dispatch: it lives in the `vos_exempt` section (see src/common/rawsys.S).
 * Every syscall instruction here is followed by at least one byte still in
 * the section, because the kernel checks the IP after the instruction. */
	.section vos_exempt,"ax",@progbits

/* Signal return trampoline installed as sa_restorer for every handler
 * (ours and the application's): glibc's own restorer would be trapped. */
	.globl vos_sigreturn_restorer
	.hidden vos_sigreturn_restorer
	.type vos_sigreturn_restorer,@function
	.p2align 4
vos_sigreturn_restorer:
	mov $15, %eax		/* rt_sigreturn */
	syscall
	ud2
	.size vos_sigreturn_restorer, .-vos_sigreturn_restorer

/* Where a local syscall runs: the SIGSYS handler points the interrupted
 * context here (rax and argument registers as the application set them) and
 * returns, so the call executes with the application's own signal mask,
 * interruptible and restartable exactly as natively (a restart re-executes
 * this syscall instruction). The handler pushed the application's return
 * address below its 128-byte red zone; `ret $128` pops it and steps over the
 * red zone, leaving rsp as it was. */
	.globl vos_syscall_stub
	.hidden vos_syscall_stub
	.type vos_syscall_stub,@function
	.p2align 4
vos_syscall_stub:
	syscall
	ret $128
	.size vos_syscall_stub, .-vos_syscall_stub

/* long vos_clone_raw(long nr, long a0, long a1, long a2, long a3, long a4,
 *                    const struct vos_clone_frame *frame)
 *
 * Issues clone/clone3 for a child that gets a new stack. The parent returns
 * normally. The child cannot return through the SIGSYS handler (its stack is
 * different), so it arms interception for itself and then resumes the
 * application exactly where the syscall returned: `frame` was written just
 * below the child's stack top and is popped into the registers, ending with
 * the application's return address. */
	.globl vos_clone_raw
	.hidden vos_clone_raw
	.type vos_clone_raw,@function
	.p2align 4
vos_clone_raw:
	push %rbx
	mov 16(%rsp), %rbx	/* frame (7th argument) */
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	syscall
	test %rax, %rax
	jz 1f
	pop %rbx
	ret
1:	/* child: new stack, rbx = frame just below its top */
	lea -512(%rbx), %rsp
	and $-16, %rsp
	mov -8(%rbx), %rdi	/* the application's signal mask */
	mov -16(%rbx), %rsi	/* its spawn record, or -1 */
	mov -24(%rbx), %rdx	/* its thread block, or 0 */
	call vos_thread_child_setup
	mov %rbx, %rsp
	pop %rbx
	pop %rbp
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rdi
	pop %rsi
	pop %rdx
	pop %r10
	pop %r8
	pop %r9
	xor %eax, %eax
	ret			/* pops the application's rip; rsp = stack top */
	.size vos_clone_raw, .-vos_clone_raw
	ud2

/* void vos_thread_exit_now(struct vos_thread_block *b, unsigned long size,
 *                          long status)
 *
 * Unmaps the calling thread's block and exits the thread, with nothing in
 * between that could read it (see thread_block.h). */
	.globl vos_thread_exit_now
	.hidden vos_thread_exit_now
	.type vos_thread_exit_now,@function
	.p2align 4
vos_thread_exit_now:
	mov %rdx, %r12		/* the status, across munmap */
	mov $11, %eax		/* munmap(b, size) */
	syscall
	mov $60, %eax		/* exit(status) */
	mov %r12, %rdi
	syscall
	ud2
	.size vos_thread_exit_now, .-vos_thread_exit_now
	ud2

	.section .note.GNU-stack,"",@progbits

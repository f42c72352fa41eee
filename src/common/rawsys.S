/* vos_raw_syscall6(nr, a0..a5): the one syscall instruction VirtuOS code
 * uses. It lives in the `vos_exempt` section, which libvos registers as the
 * Syscall User Dispatch exempt range. The kernel compares the IP *after* the
 * syscall instruction with the range, so every syscall in the section must be
 * followed by at least one more byte inside it (hence the trailing ud2). */
	.section vos_exempt,"ax",@progbits
	.globl vos_raw_syscall6
	.hidden vos_raw_syscall6
	.type vos_raw_syscall6,@function
	.p2align 4
vos_raw_syscall6:
	.cfi_startproc
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	syscall
	ret
	.cfi_endproc
	.size vos_raw_syscall6, .-vos_raw_syscall6
	ud2
	.section .note.GNU-stack,"",@progbits

/* void vos_launch_jump(uintptr_t sp, const void *image, size_t len,
 *                      uintptr_t entry)
 * Copies the initial stack image to sp (below the caller's frames), moves
 * the stack pointer there and enters the program with every other register
 * zero, as the kernel does (rdx 0: no dynamic loader finalizer). */
	.text
	.globl vos_launch_jump
	.hidden vos_launch_jump
	.type vos_launch_jump, @function
vos_launch_jump:
	movq %rcx, launch_entry(%rip)
	movq %rdi, %r8
	movq %rdx, %rcx
	cld
	rep movsb
	movq %r8, %rsp
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	jmp *launch_entry(%rip)
	.size vos_launch_jump, .-vos_launch_jump

	.bss
	.balign 8
launch_entry:
	.quad 0

	.section .note.GNU-stack,"",@progbits

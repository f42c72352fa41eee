/* Syscall sites as rewrite.c patches them: which bytes before a syscall
 * instruction a trampoline can run instead (a form), how the jump can be
 * written over them atomically, and where a short jump can land. Pure
 * functions of the code bytes and addresses (unit-tested). */
#ifndef VOS_LIBVOS_SITE_FORMS_H
#define VOS_LIBVOS_SITE_FORMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A form is the `len` bytes before the syscall instruction that a slot runs
 * instead. The jump overwrites bytes 0-4 of the site. Another thread can be
 * at any instruction boundary: 0 (it runs the old or the new bytes: one
 * atomic store), `len` (the syscall, unchanged, traps), or, in a form with
 * a boundary at 4 (`keep4`), at 4: that byte must stay what it was, so the
 * jump's last byte must equal it and only bytes 0-3 are written. */
struct vos_site_form {
	size_t len;
	bool keep4;
};

/* VOS_PATCH_SHORT: a 2-byte `jmp rel8` at the site to a landing pad, a 5-byte
 * `jmp rel32` written into dead padding after the wrapper's `ret`. */
enum vos_patch_mode { VOS_PATCH_NONE, VOS_PATCH_5, VOS_PATCH_4, VOS_PATCH_SHORT };

/* The form before the syscall instruction at `sc` (len 0: none). `nr` is
 * the number the call trapped with; `trap_only`: it must always trap. The
 * 7 bytes before sc must be readable. */
struct vos_site_form vos_site_form(const unsigned char *sc, long nr, bool trap_only);
/* How a jump can be written over the form at `site` (NONE: not with one
 * store of the site's bytes; a landing pad may still do, see below). */
enum vos_patch_mode vos_patch_mode(uintptr_t site, const struct vos_site_form *f);
/* A landing pad for the syscall at `sc`, or 0. Reads up to the end of sc's
 * page. */
uintptr_t vos_find_pad(uintptr_t sc);

#endif

/* x86-64 system call names, for statistics. */
#ifndef VOS_CLI_SYSNAMES_H
#define VOS_CLI_SYSNAMES_H

/* Name of x86-64 syscall `nr`, or NULL if the table has none. */
const char *vos_sysname(unsigned nr);

/* Name of `nr`, or "syscall_N" written into buf (at least 24 bytes). */
const char *vos_sysname_or_number(unsigned nr, char *buf, unsigned bufsz);

#endif

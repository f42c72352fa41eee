/* One-line diagnostics of the domain on stderr. */
#ifndef VOS_DOMAIN_LOG_H
#define VOS_DOMAIN_LOG_H

void vos_dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

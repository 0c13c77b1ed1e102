/* Allocation helpers that abort on out-of-memory, so callers never check for NULL,
 * plus scope-cleanup attributes for heap memory and file descriptors. */
#ifndef BERTH_XALLOC_H
#define BERTH_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort the process on allocation failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

void xalloc_cleanup_free(void *p);
void xalloc_cleanup_close(int *fd);
void xalloc_cleanup_fclose(void *fp);

/* Free the variable's heap memory / close its fd when it goes out of scope. */
#define cleanup_free   __attribute__((cleanup(xalloc_cleanup_free)))
#define cleanup_close  __attribute__((cleanup(xalloc_cleanup_close)))
#define cleanup_fclose __attribute__((cleanup(xalloc_cleanup_fclose)))

/* Hand ownership out of a cleanup_ variable: returns the value and clears the variable. */
#define steal_pointer(pp)                     \
	({                                    \
		__typeof__(*(pp)) _p = *(pp); \
		*(pp) = NULL;                 \
		_p;                           \
	})
#define steal_fd(fdp)             \
	({                        \
		int _fd = *(fdp); \
		*(fdp) = -1;      \
		_fd;              \
	})

#endif

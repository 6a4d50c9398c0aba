/* blas — see blas.h.  cpuid decides; the re-exec happens before anything
 * else so the new process image is the only one that ever uses BLAS. */
#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"

/* OpenBLAS entry points not in every cblas.h. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);

const char *
ft_blas_coretype(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512dq"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
#endif
	return NULL;
}

const char *
ft_blas_corename(void)
{
	return openblas_get_corename();
}

/* OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when it starts its threads (in
 * its constructor): set it, then restart the threads the way its fork
 * handler does, through entry points looked up so that a library
 * without them is left as it is. */
static void
restart_threads(void)
{
	void (*read_env)(void) = (void (*)(void))dlsym(RTLD_DEFAULT,
	    "openblas_read_env");
	int (*stop)(void) = (int (*)(void))dlsym(RTLD_DEFAULT,
	    "blas_thread_shutdown_");
	int (*start)(void) = (int (*)(void))dlsym(RTLD_DEFAULT,
	    "blas_thread_init");

	if (read_env == NULL || stop == NULL || start == NULL)
		return;
	read_env();
	stop();
	start();
}

void
ft_blas_init(int argc, char **argv)
{
	const char *want, *cur, *no;
	int timeout = 0;

	(void)argc;
	if (getenv("OPENBLAS_THREAD_TIMEOUT") == NULL &&
	    setenv("OPENBLAS_THREAD_TIMEOUT", FT_BLAS_THREAD_TIMEOUT, 1) == 0)
		timeout = 1;
	if (getenv("OPENBLAS_CORETYPE") != NULL)
		goto done;
	no = getenv("FT_BLAS_NO_REEXEC");
	if (no != NULL && *no != '\0' && strcmp(no, "0") != 0)
		goto done;
	want = ft_blas_coretype();
	if (want == NULL)
		goto done;
	cur = openblas_get_corename();
	/* Already on a fast path (the library recognised the CPU). */
	if (cur != NULL && (strcasecmp(cur, want) == 0 ||
	    strcasecmp(cur, "zen") == 0 || strcasecmp(cur, "cooperlake") == 0 ||
	    strcasecmp(cur, "sapphirerapids") == 0 ||
	    (strcmp(want, "Haswell") == 0 && strcasecmp(cur, "skylakex") == 0)))
		goto done;
	if (setenv("OPENBLAS_CORETYPE", want, 1) != 0)
		goto done;
	execv("/proc/self/exe", argv);
	/* exec failed: carry on with the generic kernels */
done:
	if (timeout)
		restart_threads();
}

void
ft_blas_set_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
}

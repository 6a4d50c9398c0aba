/* blas — see blas.h.  cpuid decides; the re-exec happens before anything
 * else so the new process image is the only one that ever uses BLAS. */
#include <cblas.h>
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

void
ft_blas_init(int argc, char **argv)
{
	const char *want, *cur, *no;

	(void)argc;
	if (getenv("OPENBLAS_CORETYPE") != NULL)
		return;
	no = getenv("FT_BLAS_NO_REEXEC");
	if (no != NULL && *no != '\0' && strcmp(no, "0") != 0)
		return;
	want = ft_blas_coretype();
	if (want == NULL)
		return;
	cur = openblas_get_corename();
	/* Already on a fast path (the library recognised the CPU). */
	if (cur != NULL && (strcasecmp(cur, want) == 0 ||
	    strcasecmp(cur, "zen") == 0 || strcasecmp(cur, "cooperlake") == 0 ||
	    strcasecmp(cur, "sapphirerapids") == 0 ||
	    (strcmp(want, "Haswell") == 0 && strcasecmp(cur, "skylakex") == 0)))
		return;
	if (setenv("OPENBLAS_CORETYPE", want, 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	/* exec failed: carry on with the generic kernels */
}

void
ft_blas_set_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
}

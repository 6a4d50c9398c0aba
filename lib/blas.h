/* blas — make OpenBLAS use the right kernels for this CPU.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise some AVX-512 CPUs (e.g. AMD
 * Zen 4 EPYC) and falls back to its generic "Prescott" kernels, about 4x
 * slower for sgemm.  OpenBLAS picks its kernels in a library constructor,
 * before main(), from the CPU or from the environment variable
 * OPENBLAS_CORETYPE.  So ft_blas_init(), called first thing in main(),
 * checks cpuid and, when OPENBLAS_CORETYPE is unset and the CPU has
 * AVX-512 (-> SkylakeX) or AVX2+FMA (-> Haswell), sets the variable and
 * re-executes /proc/self/exe with the same arguments.  The re-executed
 * process sees the variable set and goes on.  Opt out with
 * FT_BLAS_NO_REEXEC=1 (or by setting OPENBLAS_CORETYPE yourself).
 * If the exec fails, the process carries on with the generic kernels.
 *
 * It also sets OPENBLAS_THREAD_TIMEOUT (unless set) to
 * FT_BLAS_THREAD_TIMEOUT and restarts OpenBLAS's threads: by default an
 * idle OpenBLAS thread spins, calling sched_yield, for 2^28 cycles
 * (about 0.1 s) after every sgemm, on the core that ft's own thread pool
 * wants for the elementwise kernels between the sgemms.  2^16 cycles
 * (about 20 us) keeps them warm between back-to-back products only. */
#ifndef FT_BLAS_H
#define FT_BLAS_H

#define FT_BLAS_THREAD_TIMEOUT "16"

/* Call first in main(), before threads exist or files are opened. */
void ft_blas_init(int argc, char **argv);

/* The OPENBLAS_CORETYPE ft_blas_init would choose for this CPU ("SkylakeX",
 * "Haswell") or NULL when the default is fine. */
const char *ft_blas_coretype(void);

/* OpenBLAS's idea of the core it runs on (openblas_get_corename()). */
const char *ft_blas_corename(void);

/* Threads OpenBLAS may use (>= 1). */
void ft_blas_set_threads(int n);

#endif

/* Minimal unit-test harness: CHECK(cond) records a failure with file:line
 * and continues; main() ends with `return check_done();`, which prints
 * "N passed, N failed" and returns 1 on any failure. */
#ifndef FT_CHECK_H
#define FT_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass_, check_fail_;

#define CHECK(c) do { if (c) check_pass_++; else { check_fail_++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (a), b_ = (b); if (a_ == b_) check_pass_++; \
	else { check_fail_++; fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", \
	__FILE__, __LINE__, #a, a_, b_); } } while (0)
#define CHECK_NEAR(a, b, rel) do { double a_ = (a), b_ = (b); \
	if (fabs(a_ - b_) <= (rel) * fmax(fabs(b_), 1e-30) || a_ == b_) check_pass_++; \
	else { check_fail_++; fprintf(stderr, "%s:%d: %s = %.9g, want %.9g\n", \
	__FILE__, __LINE__, #a, a_, b_); } } while (0)

/* ||a - b|| / ||b|| (||a - b|| when b is all zeros), summed in double. */
static inline double
check_rel_l2(const float *a, const float *b, size_t n)
{
	double d = 0, s = 0;

	for (size_t i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		s += (double)b[i] * b[i];
	}
	return s > 0 ? sqrt(d / s) : sqrt(d);
}

static inline int
check_done(void)
{
	printf("%d passed, %d failed\n", check_pass_, check_fail_);
	return check_fail_ != 0;
}

#endif

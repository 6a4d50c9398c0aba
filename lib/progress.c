/* progress — see progress.h.  The line is redrawn in place with "\r" and
 * cleared to the end with ESC [ K, which every terminal understands. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *
ft_progress_amount(char *buf, size_t n, double v, int bytes)
{
	static const char *const bu[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	static const char *const cu[] = { "", "k", "M", "G", "T" };
	double base = bytes ? 1024.0 : 1000.0;
	int i = 0;

	while (v >= base && i < 4) {
		v /= base;
		i++;
	}
	if (i == 0)
		snprintf(buf, n, "%.0f%s%s", v, bytes ? " " : "", bytes ? bu[0] : cu[0]);
	else
		snprintf(buf, n, "%.1f %s", v, bytes ? bu[i] : cu[i]);
	return buf;
}

static void
fmt_time(char *buf, size_t n, double s)
{
	long t = (long)(s + 0.5);

	if (s < 0 || s > 359999)
		snprintf(buf, n, "--:--");
	else if (t >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

size_t
ft_progress_format(char *buf, size_t n, const char *label, uint64_t done,
	uint64_t total, double elapsed, int bytes)
{
	char a[32], b[32], r[32], eta[32], bar[24];
	double rate = elapsed > 0 ? (double)done / elapsed : 0;
	int len;

	ft_progress_amount(a, sizeof a, (double)done, bytes);
	ft_progress_amount(r, sizeof r, rate, bytes);
	if (total > 0) {
		double f = (double)done / (double)total;
		int fill;
		if (f > 1)
			f = 1;
		fill = (int)(f * 20);
		for (int i = 0; i < 20; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[20] = '\0';
		ft_progress_amount(b, sizeof b, (double)total, bytes);
		fmt_time(eta, sizeof eta, rate > 0 ? (double)(total - (done < total ? done : total)) / rate : -1);
		len = snprintf(buf, n, "%s %3d%% [%s] %s/%s %s/s ETA %s", label,
			(int)(f * 100), bar, a, b, r, eta);
	} else {
		fmt_time(eta, sizeof eta, elapsed);
		len = snprintf(buf, n, "%s %s %s/s %s", label, a, r, eta);
	}
	if (len < 0)
		len = 0;
	if (n > 0 && (size_t)len >= n)
		len = (int)n - 1;
	return (size_t)len;
}

void
ft_progress_init(struct ft_progress *p, const char *label, uint64_t total,
	int bytes, int allow)
{
	memset(p, 0, sizeof *p);
	snprintf(p->label, sizeof p->label, "%s", label ? label : "");
	p->total = total;
	p->bytes = bytes;
	p->enabled = allow && isatty(STDERR_FILENO);
	p->start = now();
}

static void
draw(struct ft_progress *p, double t)
{
	char line[256];

	ft_progress_format(line, sizeof line, p->label, p->done, p->total,
		t - p->start, p->bytes);
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	p->drawn = 1;
	p->last = t;
}

void
ft_progress_update(struct ft_progress *p, uint64_t done)
{
	double t;

	p->done = done;
	if (!p->enabled)
		return;
	t = now();
	if (p->drawn && t - p->last < 0.1)
		return;
	draw(p, t);
}

void
ft_progress_finish(struct ft_progress *p)
{
	if (!p->enabled)
		return;
	draw(p, now());
	fputc('\n', stderr);
	p->drawn = 0;
	p->enabled = 0;
}

void
ft_progress_clear(struct ft_progress *p)
{
	if (p->enabled && p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = 0;
	p->enabled = 0;
}

/* progress — one-line progress bars on stderr.
 *
 * A bar is drawn only when stderr is a terminal (and the caller allows it):
 * label, percentage and bar when the total is known, amount done, rate and
 * an ETA.  Redraws are limited to about ten a second, so calling
 * ft_progress_update() for every chunk is cheap.  Nothing is ever written
 * to stdout.  Reusable by any tool (ft-fetch counts bytes, ft-train steps). */
#ifndef FT_PROGRESS_H
#define FT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct ft_progress {
	char label[48];
	uint64_t total;   /* 0 = unknown */
	uint64_t done;
	double start;     /* seconds, monotonic */
	double last;      /* time of the last draw */
	int bytes;        /* amounts are bytes (KiB/MiB units) rather than counts */
	int enabled;      /* drawing at all */
	int drawn;        /* something is on the line */
};

/* Start a bar.  allow = 0 (e.g. for -q) never draws; otherwise it draws
 * when stderr is a terminal. */
void ft_progress_init(struct ft_progress *p, const char *label,
	uint64_t total, int bytes, int allow);
/* Set the amount done (absolute) and redraw if due. */
void ft_progress_update(struct ft_progress *p, uint64_t done);
/* Final draw and newline (if anything was drawn). */
void ft_progress_finish(struct ft_progress *p);
/* Clear the line without a final draw (before an error message). */
void ft_progress_clear(struct ft_progress *p);

/* Render the line (without "\r" or escape codes) into buf; for tests and
 * for callers that log.  Returns the length written. */
size_t ft_progress_format(char *buf, size_t n, const char *label,
	uint64_t done, uint64_t total, double elapsed, int bytes);

/* "1.5 MiB", "512 B", "12.0 k" style amounts.  Returns buf. */
char *ft_progress_amount(char *buf, size_t n, double v, int bytes);

#endif

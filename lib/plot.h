/* plot — a small line chart written directly as SVG (ft-train's loss.svg).
 *
 * Each series is a polyline over (x, y) points, optionally with a dot at
 * every point; axes get "nice" ticks covering all the data.  No external
 * dependency: the output is plain SVG 1.1 text that any browser shows. */
#ifndef FT_PLOT_H
#define FT_PLOT_H

#include <stddef.h>
#include <stdio.h>

typedef struct ft_plot_series {
	const char *label;   /* legend text */
	const char *color;   /* SVG colour, e.g. "#1f77b4" */
	const double *x, *y; /* n points; non-finite y values are skipped */
	size_t n;
	int markers;         /* draw a dot at each point */
} ft_plot_series;

/* Write the chart to fp (name for messages).  0 or -1 after a message. */
int ft_plot_svg_write(FILE *fp, const char *name, const char *title,
    const char *xlabel, const char *ylabel, const ft_plot_series *s,
    size_t ns);
/* Same, atomically replacing the file at path. */
int ft_plot_svg(const char *path, const char *title, const char *xlabel,
    const char *ylabel, const ft_plot_series *s, size_t ns);

#endif

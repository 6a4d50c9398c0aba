/* plot — SVG line charts.  Layout: a fixed 720x420 canvas, plot area with
 * margins for tick labels; ticks at 1, 2 or 5 times a power of ten so that
 * about six fall on each axis (Heckbert's "nice numbers"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "io.h"
#include "plot.h"

enum { W = 720, H = 420, ML = 70, MR = 20, MT = 40, MB = 55 };

static double
nice_step(double range, int target)
{
	double raw, mag, f;

	if (!(range > 0))
		return 1;
	raw = range / target;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	if (f <= 1)
		f = 1;
	else if (f <= 2)
		f = 2;
	else if (f <= 5)
		f = 5;
	else
		f = 10;
	return f * mag;
}

static void
axis_range(double lo, double hi, double *a, double *b, double *step)
{
	if (!(hi > lo)) {
		double d = lo != 0 ? fabs(lo) * 0.1 : 1;
		lo -= d;
		hi += d;
	}
	*step = nice_step(hi - lo, 6);
	*a = floor(lo / *step) * *step;
	*b = ceil(hi / *step) * *step;
}

static void
xml_text(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		default: fputc(*s, fp);
		}
	}
}

static void
tick_label(char *buf, size_t cap, double v, double step)
{
	int dec = 0;

	if (fabs(v) < step * 1e-9)
		v = 0;
	if (step < 1)
		dec = (int)ceil(-log10(step) - 1e-9);
	if (dec > 6)
		dec = 6;
	snprintf(buf, cap, "%.*f", dec, v);
}

int
ft_plot_svg_write(FILE *fp, const char *name, const char *title,
    const char *xlabel, const char *ylabel, const ft_plot_series *s,
    size_t ns)
{
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY,
	    ymax = -INFINITY, x0, x1, xs, y0, y1, ys;
	const double pw = W - ML - MR, ph = H - MT - MB;
	char lab[64];

	for (size_t i = 0; i < ns; i++)
		for (size_t j = 0; j < s[i].n; j++) {
			if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j]))
				continue;
			xmin = fmin(xmin, s[i].x[j]);
			xmax = fmax(xmax, s[i].x[j]);
			ymin = fmin(ymin, s[i].y[j]);
			ymax = fmax(ymax, s[i].y[j]);
		}
	if (!isfinite(xmin)) {
		xmin = 0, xmax = 1, ymin = 0, ymax = 1;
	}
	if (xmin > 0)
		xmin = 0;
	axis_range(xmin, xmax, &x0, &x1, &xs);
	axis_range(ymin, ymax, &y0, &y1, &ys);
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v) - y0) / (y1 - y0) * ph)
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n", W, H, W, H);
	fprintf(fp, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
	    W, H);
	fprintf(fp, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" "
	    "font-size=\"15\">", W / 2);
	xml_text(fp, title);
	fputs("</text>\n<g stroke=\"#ddd\" stroke-width=\"1\">\n", fp);
	for (double v = x0; v <= x1 + xs * 1e-9; v += xs)
		fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		    "y2=\"%d\"/>\n", PX(v), MT, PX(v), H - MB);
	for (double v = y0; v <= y1 + ys * 1e-9; v += ys)
		fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\"/>\n", ML, PY(v), W - MR, PY(v));
	fputs("</g>\n<g fill=\"#333\">\n", fp);
	for (double v = x0; v <= x1 + xs * 1e-9; v += xs) {
		tick_label(lab, sizeof lab, v, xs);
		fprintf(fp, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
		    "%s</text>\n", PX(v), H - MB + 16, lab);
	}
	for (double v = y0; v <= y1 + ys * 1e-9; v += ys) {
		tick_label(lab, sizeof lab, v, ys);
		fprintf(fp, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
		    "%s</text>\n", ML - 6, PY(v) + 4, lab);
	}
	fprintf(fp, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
	    ML + pw / 2, H - 12);
	xml_text(fp, xlabel);
	fprintf(fp, "</text>\n<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
	    "transform=\"rotate(-90 16 %.1f)\">", MT + ph / 2, MT + ph / 2);
	xml_text(fp, ylabel);
	fputs("</text>\n</g>\n", fp);
	fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
	    "fill=\"none\" stroke=\"#333\"/>\n", ML, MT, pw, ph);
	for (size_t i = 0; i < ns; i++) {
		int open = 0;

		for (size_t j = 0; j < s[i].n; j++) {
			if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j]))
				continue;
			if (!open) {
				fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" "
				    "stroke-width=\"1.5\" points=\"", s[i].color);
				open = 1;
			}
			fprintf(fp, "%.1f,%.1f ", PX(s[i].x[j]), PY(s[i].y[j]));
		}
		if (open)
			fputs("\"/>\n", fp);
		if (s[i].markers)
			for (size_t j = 0; j < s[i].n; j++)
				if (isfinite(s[i].x[j]) && isfinite(s[i].y[j]))
					fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" "
					    "r=\"3\" fill=\"%s\"/>\n", PX(s[i].x[j]),
					    PY(s[i].y[j]), s[i].color);
		/* legend, top right */
		fprintf(fp, "<line x1=\"%d\" y1=\"%zu\" x2=\"%d\" y2=\"%zu\" "
		    "stroke=\"%s\" stroke-width=\"2\"/>\n", W - MR - 150,
		    (size_t)MT + 14 + 18 * i, W - MR - 126,
		    (size_t)MT + 14 + 18 * i, s[i].color);
		fprintf(fp, "<text x=\"%d\" y=\"%zu\">", W - MR - 120,
		    (size_t)MT + 18 + 18 * i);
		xml_text(fp, s[i].label);
		fputs("</text>\n", fp);
	}
	fputs("</svg>\n", fp);
#undef PX
#undef PY
	if (ferror(fp))
		return ft_error("cannot write '%s':", name);
	return 0;
}

int
ft_plot_svg(const char *path, const char *title, const char *xlabel,
    const char *ylabel, const ft_plot_series *s, size_t ns)
{
	ft_atomic a;

	if (ft_atomic_open(&a, path) != 0)
		return -1;
	if (ft_plot_svg_write(a.fp, path, title, xlabel, ylabel, s, ns) != 0) {
		ft_atomic_abort(&a);
		return -1;
	}
	return ft_atomic_commit(&a);
}

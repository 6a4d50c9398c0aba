/* Unit tests for lib/progress: the rendered line. */
#include "check.h"
#include "progress.h"

#include <string.h>

int
main(void)
{
	char buf[256], a[32];
	struct ft_progress p;

	ft_progress_format(buf, sizeof buf, "model.safetensors", 512, 1024, 1.0, 1);
	CHECK(strstr(buf, "model.safetensors  50% [##########..........]") == buf);
	CHECK(strstr(buf, "512 B/1.0 KiB 512 B/s ETA 0:01") != NULL);
	ft_progress_format(buf, sizeof buf, "x", 3 << 20, 0, 2.0, 1);
	CHECK(strcmp(buf, "x 3.0 MiB 1.5 MiB/s 0:02") == 0);
	ft_progress_format(buf, sizeof buf, "steps", 50, 100, 0, 0);
	CHECK(strstr(buf, "ETA --:--") != NULL);
	ft_progress_format(buf, sizeof buf, "steps", 150, 100, 1, 0);
	CHECK(strstr(buf, "100% [####################]") != NULL);
	CHECK(strcmp(ft_progress_amount(a, sizeof a, 1500, 0), "1.5 k") == 0);
	CHECK(strcmp(ft_progress_amount(a, sizeof a, 999, 0), "999") == 0);
	CHECK(strcmp(ft_progress_amount(a, sizeof a, 1536.0 * 1024 * 1024, 1), "1.5 GiB") == 0);
	CHECK(ft_progress_format(buf, 8, "long label", 1, 2, 1, 0) == 7);
	/* Not a terminal (tests run with stderr to a file): nothing drawn. */
	ft_progress_init(&p, "x", 10, 0, 1);
	ft_progress_update(&p, 5);
	ft_progress_finish(&p);
	CHECK(p.drawn == 0);
	return check_done();
}

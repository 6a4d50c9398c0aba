/* Unit tests for lib/io and lib/err. */
#include "check.h"
#include "err.h"
#include "io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/ft-test-io.XXXXXX";

static void
test_atomic(void)
{
	ft_atomic a;
	char *path = ft_path_join(dir, "out.txt"), *buf;
	size_t n;

	/* First version lands. */
	CHECK(ft_atomic_open(&a, path) == 0);
	fputs("one\n", a.fp);
	CHECK(!ft_exists(path)); /* not visible before commit */
	CHECK(ft_atomic_commit(&a) == 0);
	CHECK(ft_read_file(path, &buf, &n) == 0);
	CHECK(n == 4 && strcmp(buf, "one\n") == 0);
	free(buf);

	/* An aborted rewrite leaves the old file and no temporary. */
	CHECK(ft_atomic_open(&a, path) == 0);
	fputs("two, torn", a.fp);
	ft_atomic_abort(&a);
	CHECK(ft_read_file(path, &buf, &n) == 0);
	CHECK(strcmp(buf, "one\n") == 0);
	free(buf);

	/* A committed rewrite replaces it. */
	CHECK(ft_atomic_open(&a, path) == 0);
	fputs("two\n", a.fp);
	CHECK(ft_atomic_commit(&a) == 0);
	CHECK(ft_read_file(path, &buf, &n) == 0);
	CHECK(strcmp(buf, "two\n") == 0);
	free(buf);
	free(path);

	/* Output into a missing folder fails cleanly. */
	path = ft_path_join(dir, "no/such/out.txt");
	CHECK(ft_atomic_open(&a, path) == -1);
	free(path);
}

static void
test_full_disk(void)
{
	FILE *fp = fopen("/dev/full", "w");

	if (fp == NULL)
		return;
	CHECK(ft_write(fp, "x", 1, "/dev/full") == 0); /* buffered */
	CHECK(fflush(fp) != 0);
	fclose(fp);
}

static void
test_paths(void)
{
	char *p = ft_path_join("a/", "b");

	CHECK(strcmp(p, "a/b") == 0);
	free(p);
	p = ft_path_join(dir, "x/y/z");
	CHECK(ft_mkdir_p(p, 0777) == 0);
	CHECK(ft_exists(p));
	free(p);
	p = ft_path_join(dir, "x");
	CHECK(ft_remove_tree(p) == 0);
	CHECK(!ft_exists(p));
	free(p);
	CHECK(strcmp(ft_in_name("-"), "<stdin>") == 0);
	CHECK(strcmp(ft_out_name("f"), "f") == 0);
}

static void
test_map(void)
{
	ft_map m;
	char *path = ft_path_join(dir, "empty");
	FILE *fp = fopen(path, "w");

	fclose(fp);
	CHECK(ft_map_file(&m, path) == 0);
	CHECK(m.size == 0 && m.data != NULL);
	ft_unmap(&m);
	CHECK(ft_map_file(&m, "/nonexistent/file") == -1);
	unlink(path);
	free(path);
}

static void
test_grow(void)
{
	int *v = NULL;
	size_t cap = 0;

	ft_grow((void **)&v, &cap, 1000, sizeof *v);
	CHECK(cap >= 1000);
	v[999] = 7;
	CHECK(v[999] == 7);
	free(v);
}

int
main(void)
{
	ft_setprog("test_io");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_atomic();
	test_full_disk();
	test_paths();
	test_map();
	test_grow();
	ft_remove_tree(dir);
	return check_done();
}

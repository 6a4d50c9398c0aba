/* io — see io.h. */
#include "io.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
ft_in_name(const char *path)
{
	return (path == NULL || strcmp(path, "-") == 0) ? "<stdin>" : path;
}

const char *
ft_out_name(const char *path)
{
	return (path == NULL || strcmp(path, "-") == 0) ? "<stdout>" : path;
}

FILE *
ft_open_in(const char *path)
{
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0)
		return stdin;
	fp = fopen(path, "rb");
	if (fp == NULL)
		ft_die("cannot open '%s':", path);
	return fp;
}

void
ft_close_in(FILE *fp)
{
	if (fp != NULL && fp != stdin)
		fclose(fp);
}

int
ft_read_fp(FILE *fp, const char *name, char **buf, size_t *len)
{
	char *b = NULL;
	size_t cap = 0, n = 0, got;

	for (;;) {
		ft_grow((void **)&b, &cap, n + 65536 + 1, 1);
		got = fread(b + n, 1, cap - n - 1, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		ft_error("cannot read '%s':", name);
		free(b);
		return -1;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int
ft_read_file(const char *path, char **buf, size_t *len)
{
	FILE *fp;
	int rc;

	if (path == NULL || strcmp(path, "-") == 0) {
		fp = stdin;
	} else if ((fp = fopen(path, "rb")) == NULL) {
		return ft_error("cannot open '%s':", path);
	}
	rc = ft_read_fp(fp, ft_in_name(path), buf, len);
	ft_close_in(fp);
	return rc;
}

int
ft_map_file(ft_map *m, const char *path)
{
	struct stat st;
	int fd;
	void *p;

	memset(m, 0, sizeof *m);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ft_error("cannot open '%s':", path);
	if (fstat(fd, &st) != 0) {
		close(fd);
		return ft_error("cannot stat '%s':", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ft_error("'%s' is not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		m->data = (const unsigned char *)"";
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return ft_error("cannot map '%s':", path);
	m->base_ = p;
	m->data = p;
	m->size = (size_t)st.st_size;
	return 0;
}

void
ft_unmap(ft_map *m)
{
	if (m->base_ != NULL)
		munmap(m->base_, m->size);
	memset(m, 0, sizeof *m);
}

/* Temporaries to remove on a fatal signal.  A fixed table written before
 * the file exists, read by the handler: no allocation in the handler. */
#define FT_MAX_TMP 64
static char *volatile tmp_paths[FT_MAX_TMP];

int
ft_tmp_register(const char *path)
{
	for (int i = 0; i < FT_MAX_TMP; i++)
		if (tmp_paths[i] == NULL) {
			tmp_paths[i] = ft_strdup(path);
			return i;
		}
	return -1;
}

void
ft_tmp_unregister(int slot)
{
	char *p;

	if (slot < 0 || slot >= FT_MAX_TMP)
		return;
	p = tmp_paths[slot];
	tmp_paths[slot] = NULL;
	free(p);
}

static void
remove_tmps(void)
{
	for (int i = 0; i < FT_MAX_TMP; i++) {
		char *p = tmp_paths[i];
		if (p != NULL)
			unlink(p); /* folders are left: rmdir of a full tree is not async-safe */
	}
}

static void
on_fatal_signal(int sig)
{
	remove_tmps();
	signal(sig, SIG_DFL);
	raise(sig);
}

void
ft_io_install_signal_cleanup(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	static int done;

	if (done)
		return;
	done = 1;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction sa, old;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_fatal_signal;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue; /* keep an inherited "ignore" (nohup) */
		sigaction(sigs[i], &sa, NULL);
	}
	atexit(remove_tmps);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ft_strdup(".");
	if (slash == path)
		return ft_strdup("/");
	return ft_strndup(path, (size_t)(slash - path));
}

int
ft_atomic_open(ft_atomic *a, const char *path)
{
	struct stat st;
	int fd, slot, exists;
	const char *base;
	char *dir;

	memset(a, 0, sizeof *a);
	if (path == NULL || strcmp(path, "-") == 0) {
		a->fp = stdout;
		return 0;
	}
	exists = *path != '\0' && stat(path, &st) == 0;
	/* refused up front: rename(2) would name the temporary file */
	if (*path == '\0' || path[strlen(path) - 1] == '/' ||
	    (exists && S_ISDIR(st.st_mode))) {
		errno = *path == '\0' ? ENOENT : EISDIR;
		return ft_error("cannot write '%s':", path);
	}
	/* a device or FIFO (/dev/null, /dev/stdout, a pipe) is written as
	 * it is: renaming over it would replace it with a regular file */
	if (exists && !S_ISREG(st.st_mode)) {
		if ((a->fp = fopen(path, "wb")) == NULL)
			return ft_error("cannot open '%s':", path);
		a->path = ft_strdup(path);
		return 0;
	}
	dir = dir_of(path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	a->tmp = ft_asprintf("%s/.%s.tmpXXXXXX", dir, base);
	free(dir);
	fd = mkstemp(a->tmp);
	if (fd < 0) {
		ft_error("cannot create a temporary file for '%s':", path);
		free(a->tmp);
		a->tmp = NULL;
		return -1;
	}
	slot = ft_tmp_register(a->tmp);
	(void)slot;
	/* mkstemp makes 0600; outputs get the usual 0666 & ~umask. */
	{
		mode_t um = umask(0);
		umask(um);
		fchmod(fd, 0666 & ~um);
	}
	a->fp = fdopen(fd, "wb");
	if (a->fp == NULL) {
		ft_error("cannot open '%s':", a->tmp);
		close(fd);
		unlink(a->tmp);
		free(a->tmp);
		a->tmp = NULL;
		return -1;
	}
	a->path = ft_strdup(path);
	return 0;
}

static void
unregister_path(const char *path)
{
	for (int i = 0; i < FT_MAX_TMP; i++)
		if (tmp_paths[i] != NULL && strcmp(tmp_paths[i], path) == 0) {
			ft_tmp_unregister(i);
			return;
		}
}

static void
atomic_free(ft_atomic *a)
{
	if (a->tmp != NULL)
		unregister_path(a->tmp);
	free(a->tmp);
	free(a->path);
	memset(a, 0, sizeof *a);
}

int
ft_atomic_commit(ft_atomic *a)
{
	int rc = 0;
	char *dir;

	if (a->fp == stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			rc = ft_stdout_error();
		memset(a, 0, sizeof *a);
		return rc;
	}
	if (a->fp == NULL)
		return -1;
	if (fflush(a->fp) != 0 || ferror(a->fp)) {
		rc = ft_error("cannot write '%s':", a->path);
	} else if (fsync(fileno(a->fp)) != 0 && errno != EINVAL) {
		rc = ft_error("cannot sync '%s':", a->path);
	}
	if (fclose(a->fp) != 0 && rc == 0)
		rc = ft_error("cannot write '%s':", a->path);
	a->fp = NULL;
	if (a->tmp == NULL) { /* written in place */
		atomic_free(a);
		return rc;
	}
	if (rc == 0 && rename(a->tmp, a->path) != 0)
		rc = ft_error("cannot rename '%s' to '%s':", a->tmp, a->path);
	if (rc != 0) {
		unlink(a->tmp);
	} else {
		dir = dir_of(a->path);
		ft_fsync_dir(dir);
		free(dir);
	}
	atomic_free(a);
	return rc;
}

void
ft_atomic_abort(ft_atomic *a)
{
	if (a->fp != NULL && a->fp != stdout) {
		fclose(a->fp);
		if (a->tmp != NULL)
			unlink(a->tmp);
	}
	if (a->fp == stdout) {
		memset(a, 0, sizeof *a);
		return;
	}
	atomic_free(a);
}

int
ft_stdout_error(void)
{
	static int reported;

	if (reported)
		return -1;
	reported = 1;
	return ft_error("<stdout>: write failed:");
}

int
ft_close_stdout(void)
{
	int err = 0;

	if (fflush(stdout) != 0 || ferror(stdout))
		err = 1;
	if (fclose(stdout) != 0 && errno != EBADF)
		err = 1;
	if (err)
		return ft_stdout_error();
	return 0;
}

int
ft_write(FILE *fp, const void *buf, size_t n, const char *name)
{
	if (n != 0 && fwrite(buf, 1, n, fp) != n)
		return fp == stdout ? ft_stdout_error() :
		    ft_error("%s: write failed:", name);
	return 0;
}

int
ft_mkdir_p(const char *path, unsigned mode)
{
	char *p = ft_strdup(path);
	size_t n = strlen(p);

	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
			ft_error("cannot create folder '%s':", p);
			free(p);
			return -1;
		}
		p[i] = c;
	}
	free(p);
	return 0;
}

int
ft_remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : ft_error("cannot stat '%s':", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0)
			return ft_error("cannot remove '%s':", path);
		return 0;
	}
	d = opendir(path);
	if (d == NULL)
		return ft_error("cannot open folder '%s':", path);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *sub = ft_path_join(path, e->d_name);
		if (ft_remove_tree(sub) != 0)
			rc = -1;
		free(sub);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) != 0)
		rc = ft_error("cannot remove folder '%s':", path);
	return rc;
}

int
ft_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

int
ft_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

char *
ft_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (n > 0 && dir[n - 1] == '/')
		return ft_asprintf("%s%s", dir, name);
	return ft_asprintf("%s/%s", dir, name);
}

int
ft_path_within(const char *path, const char *dir)
{
	struct stat d, st;
	char *p = ft_strdup(path), *real = NULL;
	int in = 0;

	if (stat(dir, &d) != 0) {
		free(p);
		return 0;
	}
	/* the real path of the longest existing prefix */
	while ((real = realpath(p, NULL)) == NULL) {
		char *slash = strrchr(p, '/');

		if (slash == NULL) {
			real = realpath(".", NULL);
			break;
		}
		if (slash == p) {
			real = ft_strdup("/");
			break;
		}
		*slash = '\0';
	}
	free(p);
	if (real == NULL)
		return 0;
	for (;;) {
		char *slash;

		if (stat(real, &st) == 0 && st.st_dev == d.st_dev &&
		    st.st_ino == d.st_ino) {
			in = 1;
			break;
		}
		slash = strrchr(real, '/');
		if (slash == NULL || strcmp(real, "/") == 0)
			break;
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(real);
	return in;
}

int
ft_lock_path(const char *path, const char *what, int *created)
{
	struct flock fl;
	char host[256], buf[400];
	int fd, rc, made = 0;
	ssize_t n;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd >= 0)
		made = 1;
	else if (errno == EEXIST)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ft_error("cannot open lock file '%s':", path);
	if (created != NULL)
		*created = made;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
	rc = fcntl(fd, F_OFD_SETLK, &fl);
	if (rc != 0 && errno == EINVAL)
#endif
		rc = fcntl(fd, F_SETLK, &fl);
	if (rc != 0) {
		int e = errno;

		if (e == EAGAIN || e == EACCES) {
			char pid[32] = "?", hn[256] = "?";

			n = pread(fd, buf, sizeof buf - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			if (sscanf(buf, "%31s %255s", pid, hn) < 1)
				snprintf(pid, sizeof pid, "?");
			close(fd);
			return ft_error("%s is in use by pid %s on %s (lock "
			    "'%s')", what, pid, hn, path);
		}
		close(fd);
		errno = e;
		return ft_error("cannot lock '%s':", path);
	}
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	n = snprintf(buf, sizeof buf, "%ld %s\n", (long)getpid(), host);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		ft_error("cannot write lock file '%s':", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
ft_copy_file(const char *src, const char *dst)
{
	ft_map map;
	ft_atomic a;
	int rc;

	if (ft_map_file(&map, src) != 0)
		return -1;
	if (ft_atomic_open(&a, dst) != 0) {
		ft_unmap(&map);
		return -1;
	}
	rc = ft_write(a.fp, map.data, map.size, dst);
	ft_unmap(&map);
	if (rc != 0) {
		ft_atomic_abort(&a);
		return -1;
	}
	return ft_atomic_commit(&a);
}

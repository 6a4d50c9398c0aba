/* io — files, stdin/stdout as "-", atomic replacement, checked close.
 *
 * Outputs that name a file are written atomically: to a temporary file in
 * the same folder, then fflush + fsync + rename + fsync of the folder, so an
 * interrupted run leaves either the old file or the complete new one.  The
 * temporaries of open atomic outputs are removed if the process is killed by
 * SIGINT, SIGTERM, SIGHUP or SIGPIPE (ft_io_install_signal_cleanup). */
#ifndef FT_IO_H
#define FT_IO_H

#include <stdio.h>
#include <stddef.h>

/* "-" → "<stdin>" / "<stdout>" for messages, otherwise the path itself. */
const char *ft_in_name(const char *path);
const char *ft_out_name(const char *path);

/* Open for reading; "-" or NULL is stdin.  Dies naming the file on error. */
FILE *ft_open_in(const char *path);
/* Close what ft_open_in returned (does not close stdin). */
void ft_close_in(FILE *fp);

/* Read a whole file ("-" = stdin) into a NUL-terminated buffer.
 * Returns 0, or -1 after printing an error naming the file. */
int ft_read_file(const char *path, char **buf, size_t *len);
/* The same for the rest of an open stream (not closed); name is used in
 * messages. */
int ft_read_fp(FILE *fp, const char *name, char **buf, size_t *len);

/* Read-only mapping of a whole regular file.  Returns 0 or -1 (message
 * printed).  A zero-length file maps to a non-NULL empty buffer. */
typedef struct ft_map {
	const unsigned char *data;
	size_t size;
	void *base_; /* private */
} ft_map;
int ft_map_file(ft_map *m, const char *path);
void ft_unmap(ft_map *m);

/* Atomic output.  ft_atomic_open("-") writes straight to stdout, and a
 * path that is not a regular file (/dev/null, a FIFO) straight to it. */
typedef struct ft_atomic {
	FILE *fp;
	char *path;    /* final name (NULL for stdout) */
	char *tmp;     /* temporary name while open */
} ft_atomic;
/* Returns 0 or -1 (message printed). */
int ft_atomic_open(ft_atomic *a, const char *path);
/* Flush, fsync, rename into place.  Returns 0 or -1 (message printed; the
 * temporary is removed and any old file at path is untouched). */
int ft_atomic_commit(ft_atomic *a);
/* Drop the temporary; the old file (if any) stays. */
void ft_atomic_abort(ft_atomic *a);

/* Copy the file src to dst atomically (dst is replaced only by the whole
 * copy).  0 or -1 (message printed). */
int ft_copy_file(const char *src, const char *dst);

/* Remove temporaries of open atomic outputs when a fatal signal arrives
 * (then re-raise it).  Tools call this once at start. */
void ft_io_install_signal_cleanup(void);

/* Register/unregister an extra temporary path (a file or an empty-ish
 * folder tree) for removal on a fatal signal or ft_die.  Returns a slot id. */
int ft_tmp_register(const char *path);
void ft_tmp_unregister(int slot);

/* Flush and close stdout, reporting a write error (e.g. ENOSPC on
 * /dev/full) as "PROG: error: <stdout>: ...".  Returns 0 or -1.
 * Tools end with: return ft_close_stdout() ? 1 : status; */
int ft_close_stdout(void);
/* Report "PROG: error: <stdout>: write failed: REASON" once per process
 * (later calls stay silent) and return -1.  For every stdout write error,
 * so that a full disk gives one line, not one per layer. */
int ft_stdout_error(void);

/* fwrite that reports errors naming the output.  Returns 0 or -1. */
int ft_write(FILE *fp, const void *buf, size_t n, const char *name);

/* mkdir -p.  Returns 0 or -1 (message printed). */
int ft_mkdir_p(const char *path, unsigned mode);
/* Remove a file tree (rm -rf).  Returns 0 or -1 (message printed). */
int ft_remove_tree(const char *path);
/* fsync a directory by path (after renames inside it).  0 or -1. */
int ft_fsync_dir(const char *path);
/* Does path exist (any type)? */
int ft_exists(const char *path);
/* Is path (which need not exist) the folder dir or inside it?  Compared
 * by identity (st_dev, st_ino) along the physical parents of path's real
 * path, so that symlinks, "..", and two spellings of one folder are seen
 * through.  1 yes, 0 no (also when dir does not exist). */
int ft_path_within(const char *path, const char *dir);

/* Take an exclusive lock on the file path (created if needed) for the rest
 * of the process: an open file description lock (fcntl F_OFD_SETLK, a
 * classic POSIX lock where the kernel lacks them), which NFS passes to the
 * server, so that it holds across hosts as far as the file system allows.
 * The file then holds "PID HOST\n".  Returns the open descriptor (keep it
 * open; closing it releases the lock), or -1 after one message: "WHAT is
 * in use by pid PID on HOST" when another process holds it.  *created
 * (may be NULL) tells whether this call created the file. */
int ft_lock_path(const char *path, const char *what, int *created);

/* Join a folder and a name with one '/'; malloc'd. */
char *ft_path_join(const char *dir, const char *name);

#endif

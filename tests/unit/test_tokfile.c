/* Unit tests for lib/tokfile: round trips (uint16 and uint32 ids, empty
 * documents, documents spanning data frames, many documents per block),
 * raw frame contents, concatenated segments, and corruption: every
 * truncation and every flipped byte of a small file must be an error.
 *
 * With arguments this binary is also a tiny tool for tests/cli/tokfile.sh:
 *   test_tokfile write OUT VOCAB [EOS] < lines   one document per line of
 *                                                 space-separated ids
 *   test_tokfile dump FILE                        the documents back, same form
 *   test_tokfile raw FILE                         the ids as little-endian
 *                                                 uint16/uint32 (= zstd -dc)
 */
#include "check.h"
#include "err.h"
#include "io.h"
#include "tokfile.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

/* ---- tool modes ---- */

static int
tool_write(const char *out, uint32_t vocab, int32_t eos)
{
	ft_tok_info info = { .vocab_size = vocab, .eos_id = eos };
	ft_atomic a;
	ft_tokw *w;
	char *line = NULL, *p, *end;
	size_t cap = 0;
	uint32_t id;

	memset(info.tok_hash, 0xab, sizeof info.tok_hash);
	if (ft_atomic_open(&a, out) < 0)
		return 1;
	w = ft_tokw_open(a.fp, ft_out_name(out), &info, 0);
	if (w == NULL)
		goto fail;
	while (getline(&line, &cap, stdin) > 0) {
		for (p = line;;) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			id = (uint32_t)v;
			if (ft_tokw_write(w, &id, 1) < 0)
				goto fail;
			p = end;
		}
		if (ft_tokw_end_doc(w) < 0)
			goto fail;
	}
	free(line);
	if (ft_tokw_finish(w) < 0) {
		w = NULL;
		goto fail;
	}
	return ft_atomic_commit(&a) < 0 || ft_close_stdout() < 0;
fail:
	free(line);
	ft_tokw_abort(w);
	ft_atomic_abort(&a);
	return 1;
}

static int
tool_read(const char *path, int raw)
{
	ft_tokr *r = ft_tokr_open(path);
	uint32_t buf[1000];
	size_t n, i;
	int doc_end, rc, w, first = 1;

	char *obuf = NULL;
	size_t olen = 0;
	FILE *out;

	if (r == NULL)
		return 1;
	/* Output only a fully verified file (the reader streams). */
	out = open_memstream(&obuf, &olen);
	w = ft_tokr_info(r)->vocab_size <= 65536 ? 2 : 4;
	while ((rc = ft_tokr_read(r, buf, 1000, &n, &doc_end)) > 0) {
		for (i = 0; i < n; i++) {
			if (raw) {
				unsigned char b[4] = { (unsigned char)buf[i],
				    (unsigned char)(buf[i] >> 8),
				    (unsigned char)(buf[i] >> 16),
				    (unsigned char)(buf[i] >> 24) };
				fwrite(b, 1, (size_t)w, out);
			} else {
				fprintf(out, "%s%u", first ? "" : " ",
				    buf[i]);
				first = 0;
			}
		}
		if (!raw && doc_end) {
			fputc('\n', out);
			first = 1;
		}
	}
	ft_tokr_close(r);
	fclose(out);
	if (rc == 0)
		fwrite(obuf, 1, olen, stdout);
	free(obuf);
	if (ft_close_stdout() < 0)
		return 1;
	return rc < 0;
}

/* ---- unit tests ---- */

static uint64_t rs = 88172645463325252ULL;
static uint32_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

typedef struct corpus {
	uint32_t *ids;
	size_t n;
	size_t *start; /* n_docs + 1 */
	size_t n_docs;
} corpus;

static void
make_corpus(corpus *c, size_t n_docs, size_t maxlen, uint32_t vocab,
    size_t big_doc)
{
	size_t cap = 0;

	memset(c, 0, sizeof *c);
	c->start = ft_malloc(sizeof *c->start * (n_docs + 1));
	c->start[0] = 0;
	for (size_t d = 0; d < n_docs; d++) {
		size_t len = (d == n_docs / 2 && big_doc) ? big_doc :
		    (rnd() % 4 == 0 ? 0 : rnd() % (maxlen + 1));

		ft_grow((void **)&c->ids, &cap, c->n + len + 1, sizeof *c->ids);
		for (size_t i = 0; i < len; i++)
			c->ids[c->n++] = rnd() % vocab;
		c->start[d + 1] = c->n;
	}
	c->n_docs = n_docs;
}

static void
free_corpus(corpus *c)
{
	free(c->ids);
	free(c->start);
}

/* Write c into a malloc'd buffer; ids go in pieces of `piece`. */
static char *
write_mem(const corpus *c, const ft_tok_info *info, size_t piece, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	ft_tokw *w = ft_tokw_open(fp, "mem", info, 1);

	for (size_t d = 0; d < c->n_docs; d++) {
		for (size_t i = c->start[d]; i < c->start[d + 1]; i += piece) {
			size_t k = c->start[d + 1] - i;

			CHECK(ft_tokw_write(w, c->ids + i, k < piece ? k : piece)
			    == 0);
		}
		CHECK(ft_tokw_end_doc(w) == 0);
	}
	CHECK(ft_tokw_finish(w) == 0);
	fclose(fp);
	return buf;
}

/* Read a whole buffer; returns 0 and fills got (like ft_tok_load) or -1. */
static int
read_mem(const char *buf, size_t len, size_t cap, corpus *got,
    uint64_t *nseg)
{
	FILE *fp = len > 0 ? fmemopen((void *)buf, len, "rb") :
	    fopen("/dev/null", "rb");
	ft_tokr *r;
	size_t n, icap = 0, dcap = 0;
	int doc_end, rc = -1;

	memset(got, 0, sizeof *got);
	ft_grow((void **)&got->start, &dcap, 1, sizeof *got->start);
	got->start[0] = 0;
	r = ft_tokr_open_fp(fp, "mem");
	if (r == NULL)
		goto out;
	for (;;) {
		ft_grow((void **)&got->ids, &icap, got->n + cap,
		    sizeof *got->ids);
		rc = ft_tokr_read(r, got->ids + got->n, cap, &n, &doc_end);
		if (rc <= 0)
			break;
		got->n += n;
		if (doc_end) {
			ft_grow((void **)&got->start, &dcap, got->n_docs + 2,
			    sizeof *got->start);
			got->start[++got->n_docs] = got->n;
		}
	}
	if (nseg != NULL)
		*nseg = ft_tokr_segments(r);
	ft_tokr_close(r);
out:
	fclose(fp);
	return rc;
}

static int
same(const corpus *a, const corpus *b)
{
	return a->n == b->n && a->n_docs == b->n_docs &&
	    (a->n == 0 || memcmp(a->ids, b->ids, a->n * sizeof *a->ids) == 0) &&
	    memcmp(a->start, b->start, (a->n_docs + 1) * sizeof *a->start) == 0;
}

/* Decompress the data frames, skipping skippable ones, as `zstd -dc`. */
static unsigned char *
zstd_dc(const char *buf, size_t len, size_t *out_n)
{
	unsigned char *out = NULL;
	size_t cap = 0, n = 0, pos = 0;

	while (pos < len) {
		size_t fs = ZSTD_findFrameCompressedSize(buf + pos, len - pos);
		unsigned long long cs;

		CHECK(!ZSTD_isError(fs));
		if (ZSTD_isError(fs))
			break;
		if ((((unsigned char)buf[pos] & 0xf0) != 0x50) ||
		    memcmp(buf + pos + 1, "\x2a\x4d\x18", 3) != 0) {
			cs = ZSTD_getFrameContentSize(buf + pos, fs);
			ft_grow((void **)&out, &cap, n + cs + 1, 1);
			CHECK(ZSTD_decompress(out + n, cs, buf + pos, fs) == cs);
			n += cs;
		}
		pos += fs;
	}
	*out_n = n;
	return out;
}

static void
test_roundtrip(uint32_t vocab, size_t n_docs, size_t maxlen, size_t big)
{
	ft_tok_info info = { .vocab_size = vocab, .eos_id = (int32_t)vocab - 1 };
	corpus c, got;
	size_t len, rawn, w = vocab <= 65536 ? 2 : 4;
	char *buf;
	unsigned char *raw;
	size_t caps[] = { 1, 7, 4096, 1 << 20 };

	for (int i = 0; i < 32; i++)
		info.tok_hash[i] = (uint8_t)i;
	make_corpus(&c, n_docs, maxlen, vocab, big);
	buf = write_mem(&c, &info, 1000, &len);
	for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		CHECK(read_mem(buf, len, caps[k], &got, NULL) == 0);
		CHECK(same(&c, &got));
		free_corpus(&got);
	}
	/* zstd -dc yields exactly the little-endian ids. */
	raw = zstd_dc(buf, len, &rawn);
	CHECK(rawn == c.n * w);
	for (size_t i = 0; i < c.n && rawn == c.n * w; i++) {
		uint32_t v = raw[i * w] | (uint32_t)raw[i * w + 1] << 8;

		if (w == 4)
			v |= (uint32_t)raw[i * w + 2] << 16 |
			    (uint32_t)raw[i * w + 3] << 24;
		if (v != c.ids[i]) {
			CHECK(v == c.ids[i]);
			break;
		}
	}
	free(raw);
	free(buf);
	free_corpus(&c);
}

/* Same bytes whatever the write pieces. */
static void
test_deterministic(void)
{
	ft_tok_info info = { .vocab_size = 50257, .eos_id = 50256 };
	corpus c;
	size_t l1, l2;
	char *a, *b;

	make_corpus(&c, 50, 300, 50257, 0);
	a = write_mem(&c, &info, 1, &l1);
	b = write_mem(&c, &info, 999, &l2);
	CHECK(l1 == l2 && memcmp(a, b, l1) == 0);
	free(a);
	free(b);
	free_corpus(&c);
}

static void
test_concat_and_mismatch(void)
{
	ft_tok_info info = { .vocab_size = 50257, .eos_id = 50256 };
	corpus a, b, got;
	size_t la, lb;
	char *ba, *bb, *cat;
	uint64_t nseg = 0;

	make_corpus(&a, 20, 100, 50257, 0);
	make_corpus(&b, 30, 100, 50257, 0);
	ba = write_mem(&a, &info, 64, &la);
	bb = write_mem(&b, &info, 64, &lb);
	cat = ft_malloc(la + lb);
	memcpy(cat, ba, la);
	memcpy(cat + la, bb, lb);
	CHECK(read_mem(cat, la + lb, 100, &got, &nseg) == 0);
	CHECK(nseg == 2);
	CHECK(got.n == a.n + b.n && got.n_docs == a.n_docs + b.n_docs);
	CHECK(memcmp(got.ids, a.ids, a.n * 4) == 0);
	CHECK(memcmp(got.ids + a.n, b.ids, b.n * 4) == 0);
	CHECK(got.start[a.n_docs] == a.n);
	free_corpus(&got);
	free(bb);

	/* A different tokenizer hash, eos or vocabulary: refused. */
	info.tok_hash[5] = 1;
	bb = write_mem(&b, &info, 64, &lb);
	memcpy(cat + la, bb, lb);
	CHECK(read_mem(cat, la + lb, 100, &got, NULL) == -1);
	free_corpus(&got);
	free(bb);
	info.tok_hash[5] = 0;
	info.eos_id = 0;
	bb = write_mem(&b, &info, 64, &lb);
	memcpy(cat + la, bb, lb);
	CHECK(read_mem(cat, la + lb, 100, &got, NULL) == -1);
	free_corpus(&got);
	free(bb);

	free(ba);
	free(cat);
	free_corpus(&a);
	free_corpus(&b);
}

/* Silence the (expected) error messages of the corruption loops. */
static int saved_fd = -1;
static void
quiet(int on)
{
	fflush(stderr);
	if (on) {
		int fd = open("/dev/null", O_WRONLY);

		saved_fd = dup(2);
		dup2(fd, 2);
		close(fd);
	} else {
		dup2(saved_fd, 2);
		close(saved_fd);
	}
}

/* Every proper prefix and every flipped byte of a small file fails. */
static void
test_corruption(void)
{
	ft_tok_info info = { .vocab_size = 50257, .eos_id = 50256 };
	corpus c, got;
	size_t len, cut, i, bad_cut = 0, bad_flip = 0;
	char *buf;

	make_corpus(&c, 6, 40, 50257, 0);
	buf = write_mem(&c, &info, 64, &len);
	CHECK(len > 100 && len < 2000);
	quiet(1);
	for (cut = 0; cut < len; cut++) {
		if (read_mem(buf, cut, 16, &got, NULL) != -1)
			bad_cut++;
		free_corpus(&got);
	}
	CHECK_EQ_INT(bad_cut, 0);
	for (i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (char)(1 << bit);
			if (read_mem(buf, len, 16, &got, NULL) != -1) {
				fprintf(stderr, "flip of byte %zu bit %d "
				    "undetected\n", i, bit);
				bad_flip++;
			}
			free_corpus(&got);
			buf[i] ^= (char)(1 << bit);
		}
	}
	quiet(0);
	CHECK_EQ_INT(bad_flip, 0);
	/* And the intact file still reads. */
	CHECK(read_mem(buf, len, 16, &got, NULL) == 0 && same(&c, &got));
	free_corpus(&got);
	/* Trailing garbage after a complete segment is an error too. */
	buf = ft_realloc(buf, len + 3);
	memcpy(buf + len, "abc", 3);
	CHECK(read_mem(buf, len + 3, 16, &got, NULL) == -1);
	free_corpus(&got);
	free(buf);
	free_corpus(&c);
}

static void
test_edge(void)
{
	ft_tok_info info = { .vocab_size = 10, .eos_id = -1 };
	corpus c, got;
	size_t len;
	char *buf = NULL;
	FILE *fp;
	ft_tokw *w;
	uint32_t id;

	/* A file with no documents is valid and empty. */
	memset(&c, 0, sizeof c);
	c.start = ft_calloc(1, sizeof *c.start);
	buf = write_mem(&c, &info, 1, &len);
	CHECK(read_mem(buf, len, 16, &got, NULL) == 0 && got.n_docs == 0);
	free_corpus(&got);
	free(buf);
	free(c.start);

	/* An empty file is not. */
	CHECK(read_mem("", 0, 16, &got, NULL) == -1);
	free_corpus(&got);

	/* Out-of-range ids and parameters are refused by the writer. */
	fp = open_memstream(&buf, &len);
	w = ft_tokw_open(fp, "mem", &info, 0);
	id = 10;
	CHECK(ft_tokw_write(w, &id, 1) == -1);
	ft_tokw_abort(w);
	info.eos_id = 10;
	CHECK(ft_tokw_open(fp, "mem", &info, 0) == NULL);
	fclose(fp);
	free(buf);

	/* finish() ends an open document. */
	info.eos_id = 3;
	fp = open_memstream(&buf, &len);
	w = ft_tokw_open(fp, "mem", &info, 0);
	id = 4;
	CHECK(ft_tokw_write(w, &id, 1) == 0);
	CHECK(ft_tokw_finish(w) == 0);
	fclose(fp);
	CHECK(read_mem(buf, len, 16, &got, NULL) == 0 && got.n_docs == 1 &&
	    got.n == 1 && got.ids[0] == 4);
	free_corpus(&got);

	/* A future version is refused (fix the CRC to isolate the check). */
	buf[8 + 4] = 2;
	CHECK(read_mem(buf, len, 16, &got, NULL) == -1);
	free_corpus(&got);
	free(buf);

	/* Not a token file at all. */
	CHECK(read_mem("hello world, this is text\n", 26, 16, &got, NULL) == -1);
	free_corpus(&got);
}

/* ft_tok_load on a real file, with many empty documents (more than one
 * block's worth of ends). */
static void
test_load(void)
{
	ft_tok_info info = { .vocab_size = 70000, .eos_id = 0 };
	char path[] = "/tmp/ft-test-tok.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "wb");
	ft_tokw *w = ft_tokw_open(fp, path, &info, 0);
	ft_tok_data d;
	uint32_t id = 69999;

	for (int i = 0; i < 70000; i++) {
		if (i % 1000 == 5 && ft_tokw_write(w, &id, 1) != 0)
			CHECK(0);
		if (ft_tokw_end_doc(w) != 0)
			CHECK(0);
	}
	CHECK(ft_tokw_finish(w) == 0);
	fclose(fp);
	CHECK(ft_tok_load(path, &d) == 0);
	CHECK(d.n_docs == 70000 && d.n_ids == 70);
	CHECK(d.info.vocab_size == 70000 && d.info.eos_id == 0);
	CHECK(d.doc_start[6] == 1 && d.doc_start[5] == 0);
	CHECK(d.doc_start[70000] == 70 && d.ids[69] == 69999);
	ft_tok_data_free(&d);
	unlink(path);
	CHECK(ft_tok_load(path, &d) == -1);
}

/* One long document (30M uint32 ids, 120 MB raw) written through a pipe
 * and read back in small pieces: the peak memory must stay far below the
 * document size, on both sides. */
static void
test_long_doc_bounded(void)
{
	ft_tok_info info = { .vocab_size = 70000, .eos_id = 1 };
	const size_t piece = 4096, total = 7324 * piece;
	uint32_t buf[4096];
	FILE *fp = tmpfile();
	ft_tokw *w = ft_tokw_open(fp, "long", &info, 1);
	ft_tokr *r;
	struct rusage ru;
	uint64_t sum = 0, want = 0;
	size_t got = 0, n, docs = 0;
	int doc_end;

	for (size_t i = 0; i < total; i += piece) {
		for (size_t k = 0; k < piece; k++) {
			buf[k] = (uint32_t)(((i + k) * 2654435761u) % 70000);
			want += buf[k] * (uint64_t)(i + k + 1);
		}
		if (ft_tokw_write(w, buf, piece) != 0) {
			CHECK(0);
			break;
		}
	}
	CHECK(ft_tokw_end_doc(w) == 0);
	CHECK(ft_tokw_finish(w) == 0);
	rewind(fp);
	r = ft_tokr_open_fp(fp, "long");
	CHECK(r != NULL);
	while (r != NULL && ft_tokr_read(r, buf, 1000, &n, &doc_end) > 0) {
		for (size_t k = 0; k < n; k++)
			sum += buf[k] * (uint64_t)(got + k + 1);
		got += n;
		docs += doc_end;
	}
	ft_tokr_close(r);
	fclose(fp);
	CHECK(got == total && docs == 1 && sum == want);
	getrusage(RUSAGE_SELF, &ru);
	/* 120 MB of ids went through; the process never held them. */
	CHECK(ru.ru_maxrss < 48 * 1024);
	if (ru.ru_maxrss >= 48 * 1024)
		fprintf(stderr, "peak RSS %ld kB\n", ru.ru_maxrss);
}

int
main(int argc, char **argv)
{
	ft_setprog(argv[0]);
	if (argc >= 4 && strcmp(argv[1], "write") == 0)
		return tool_write(argv[2],
		    (uint32_t)strtoul(argv[3], NULL, 10),
		    argc > 4 ? (int32_t)strtol(argv[4], NULL, 10) : -1);
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return tool_read(argv[2], 0);
	if (argc == 3 && strcmp(argv[1], "raw") == 0)
		return tool_read(argv[2], 1);
	if (argc > 1) {
		fprintf(stderr, "usage: test_tokfile [write OUT VOCAB [EOS] | "
		    "dump FILE | raw FILE]\n");
		return 2;
	}
	test_long_doc_bounded(); /* first: it checks the peak RSS */
	test_roundtrip(50257, 200, 2000, 0);
	test_roundtrip(50257, 5, 10, 700000);     /* spans 3 data frames */
	test_roundtrip(100000, 100, 3000, 300000);
	test_roundtrip(65536, 10, 100, 0);
	test_roundtrip(65537, 10, 100, 0);
	test_deterministic();
	test_concat_and_mismatch();
	test_corruption();
	test_edge();
	test_load();
	return check_done();
}

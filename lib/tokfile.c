/* tokfile — see tokfile.h and ft-formats(5), which specifies the bytes.
 *
 * A segment is: header frame, then blocks, then a trailer frame.  A block
 * is an index frame (skippable) followed, when it holds ids, by one zstd
 * data frame of exactly the size the index names.  The index carries the
 * block's id count, the data frame's compressed size, a CRC-32 of the
 * stored data frame and the positions where documents end.  Every metadata frame
 * ends with a CRC-32 of its payload, and the trailer carries the segment's
 * totals and a CRC-32 over all its index payloads, so a flipped byte
 * anywhere or a missing frame is an error.  The writer holds one block;
 * the reader holds one block. */
#include "tokfile.h"
#include "err.h"
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SKIP_MAGIC 0x184D2A5EU     /* our skippable frame magic */
#define ZSTD_MAGIC 0xFD2FB528U
#define FMT_VERSION 1
#define PREFIX 8                   /* "FTOK", version, kind, 2 zero bytes */
#define HDR_SIZE (PREFIX + 4 + 4 + 4 + 32 + 4)
#define TRL_SIZE (PREFIX + 8 + 8 + 8 + 4 + 4)
#define IDX_FIXED (PREFIX + 4 + 4 + 4 + 4 + 4)
#define BLOCK_IDS 262144U          /* writer: ids per data frame */
#define BLOCK_ENDS 65536U          /* writer: document ends per block */
#define MAX_IDS 1048576U           /* reader limits (bounded memory) */
#define MAX_ENDS 1048576U

static const uint32_t crc_tab[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
	0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
	0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
	0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
	0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
	0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
	0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
	0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
	0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
	0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
	0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
	0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
	0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
	0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
	0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
	0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
	0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
	0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
	0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

/* CRC-32 (IEEE 802.3, as zlib's crc32 and Python's zlib.crc32). */
static uint32_t
crc32_update(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (n-- > 0)
		crc = crc_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int
id_bytes_for(uint32_t vocab_size)
{
	return vocab_size <= 65536 ? 2 : 4;
}

/* Fill the common prefix of a metadata payload. */
static void
put_prefix(unsigned char *p, char kind)
{
	memcpy(p, "FTOK", 4);
	p[4] = FMT_VERSION;
	p[5] = (unsigned char)kind;
	p[6] = p[7] = 0;
}

/* ------------------------------------------------------------------ */
/* writer */

struct ft_tokw {
	FILE *fp;
	char *name;
	ft_tok_info info;
	int w;                     /* bytes per id */
	ZSTD_CCtx *cctx;
	unsigned char *raw;        /* BLOCK_IDS * w */
	uint32_t nraw;
	uint32_t *ends;            /* BLOCK_ENDS */
	uint32_t n_ends;
	unsigned char *cbuf, *meta;
	size_t ccap;
	uint64_t seg_ids, seg_docs, seg_blocks, doc_len;
	uint32_t idx_crc;
};

static int
w_put(ft_tokw *w, const void *buf, size_t n)
{
	return ft_write(w->fp, buf, n, w->name);
}

/* One skippable frame: magic, payload size, payload (CRC already in). */
static int
w_skip(ft_tokw *w, const unsigned char *payload, size_t n)
{
	unsigned char h[8];

	put32(h, SKIP_MAGIC);
	put32(h + 4, (uint32_t)n);
	if (w_put(w, h, 8) < 0)
		return -1;
	return w_put(w, payload, n);
}

static int
w_flush_block(ft_tokw *w)
{
	size_t csize = 0, n, i;
	unsigned char *m = w->meta;

	if (w->nraw == 0 && w->n_ends == 0)
		return 0;
	if (w->nraw > 0) {
		csize = ZSTD_compress2(w->cctx, w->cbuf, w->ccap, w->raw,
		    (size_t)w->nraw * w->w);
		if (ZSTD_isError(csize))
			return ft_error("'%s': zstd compression failed: %s",
			    w->name, ZSTD_getErrorName(csize));
	}
	put_prefix(m, 'I');
	put32(m + 8, w->nraw);
	put32(m + 12, (uint32_t)csize);
	put32(m + 16, csize > 0 ? crc32_update(0, w->cbuf, csize) : 0);
	put32(m + 20, w->n_ends);
	for (i = 0; i < w->n_ends; i++)
		put32(m + 24 + 4 * i, w->ends[i]);
	n = 24 + 4 * (size_t)w->n_ends;
	put32(m + n, crc32_update(0, m, n));
	n += 4;
	w->idx_crc = crc32_update(w->idx_crc, m, n);
	if (w_skip(w, m, n) < 0 || w_put(w, w->cbuf, csize) < 0)
		return -1;
	w->seg_ids += w->nraw;
	w->seg_docs += w->n_ends;
	w->seg_blocks++;
	w->nraw = 0;
	w->n_ends = 0;
	return 0;
}

ft_tokw *
ft_tokw_open(FILE *fp, const char *name, const ft_tok_info *info, int level)
{
	ft_tokw *w;
	unsigned char h[HDR_SIZE];

	if (info->vocab_size == 0 || info->eos_id < -1 ||
	    (info->eos_id >= 0 && (uint32_t)info->eos_id >= info->vocab_size)) {
		ft_error("'%s': invalid token file parameters (vocab_size %u, "
		    "eos_id %d)", name, info->vocab_size, info->eos_id);
		return NULL;
	}
	w = ft_calloc(1, sizeof *w);
	w->fp = fp;
	w->name = ft_strdup(name);
	w->info = *info;
	w->w = id_bytes_for(info->vocab_size);
	w->cctx = ZSTD_createCCtx();
	if (w->cctx == NULL) {
		ft_error("'%s': cannot create a zstd context", name);
		goto fail;
	}
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel,
	    level != 0 ? level : ZSTD_CLEVEL_DEFAULT);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
	w->raw = ft_malloc((size_t)BLOCK_IDS * w->w);
	w->ends = ft_malloc(sizeof *w->ends * BLOCK_ENDS);
	w->ccap = ZSTD_compressBound((size_t)BLOCK_IDS * w->w);
	w->cbuf = ft_malloc(w->ccap);
	w->meta = ft_malloc(IDX_FIXED + 4 * (size_t)BLOCK_ENDS);

	put_prefix(h, 'H');
	h[8] = (unsigned char)w->w;
	h[9] = h[10] = h[11] = 0;
	put32(h + 12, info->vocab_size);
	put32(h + 16, (uint32_t)info->eos_id);
	memcpy(h + 20, info->tok_hash, 32);
	put32(h + 52, crc32_update(0, h, 52));
	if (w_skip(w, h, sizeof h) < 0)
		goto fail;
	return w;
fail:
	ft_tokw_abort(w);
	return NULL;
}

int
ft_tokw_write(ft_tokw *w, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		unsigned char *p;

		if (id >= w->info.vocab_size)
			return ft_error("'%s': token id %u out of range "
			    "(vocabulary size %u)", w->name, id,
			    w->info.vocab_size);
		if (w->nraw == BLOCK_IDS && w_flush_block(w) < 0)
			return -1;
		p = w->raw + (size_t)w->nraw * w->w;
		p[0] = (unsigned char)id;
		p[1] = (unsigned char)(id >> 8);
		if (w->w == 4) {
			p[2] = (unsigned char)(id >> 16);
			p[3] = (unsigned char)(id >> 24);
		}
		w->nraw++;
		w->doc_len++;
	}
	return 0;
}

int
ft_tokw_end_doc(ft_tokw *w)
{
	if (w->n_ends == BLOCK_ENDS && w_flush_block(w) < 0)
		return -1;
	w->ends[w->n_ends++] = w->nraw;
	w->doc_len = 0;
	return 0;
}

int
ft_tokw_finish(ft_tokw *w)
{
	unsigned char t[TRL_SIZE];
	int rc = -1;

	if (w->doc_len > 0 && ft_tokw_end_doc(w) < 0)
		goto out;
	if (w_flush_block(w) < 0)
		goto out;
	put_prefix(t, 'T');
	put64(t + 8, w->seg_ids);
	put64(t + 16, w->seg_docs);
	put64(t + 24, w->seg_blocks);
	put32(t + 32, w->idx_crc);
	put32(t + 36, crc32_update(0, t, 36));
	if (w_skip(w, t, sizeof t) < 0)
		goto out;
	if (fflush(w->fp) != 0 || ferror(w->fp)) {
		ft_error("cannot write '%s':", w->name);
		goto out;
	}
	rc = 0;
out:
	ft_tokw_abort(w);
	return rc;
}

void
ft_tokw_abort(ft_tokw *w)
{
	if (w == NULL)
		return;
	ZSTD_freeCCtx(w->cctx);
	free(w->raw);
	free(w->ends);
	free(w->cbuf);
	free(w->meta);
	free(w->name);
	free(w);
}

/* ------------------------------------------------------------------ */
/* reader */

struct ft_tokr {
	FILE *fp;
	int own;
	char *name;
	uint64_t off;              /* bytes consumed so far */
	ft_tok_info info;
	int w;
	int in_seg;
	uint64_t nseg;
	ZSTD_DCtx *dctx;
	unsigned char *meta;       /* metadata payload */
	size_t metacap;
	unsigned char *cbuf, *raw;
	size_t ccap, rawcap;
	uint32_t *ends;
	size_t endcap;
	uint32_t blk_n, blk_pos, n_ends, end_i;
	uint64_t seg_ids, seg_docs, seg_blocks, since_end;
	uint32_t idx_crc;
	int failed, done;
};

/* An error at the current offset, naming the file. */
static int
r_bad(ft_tokr *r, uint64_t off, const char *what)
{
	r->failed = 1;
	if (off == 0)
		return ft_error("'%s': %s", r->name, what);
	return ft_error("'%s' offset %llu: %s", r->name,
	    (unsigned long long)off, what);
}

/* Read exactly n bytes: 1, 0 at EOF before any byte, -1 after a message. */
static int
r_read(ft_tokr *r, void *buf, size_t n, const char *what)
{
	size_t got = n > 0 ? fread(buf, 1, n, r->fp) : 0;

	r->off += got;
	if (got == n)
		return 1;
	if (ferror(r->fp)) {
		r->failed = 1;
		return ft_error("cannot read '%s':", r->name);
	}
	if (got == 0)
		return 0;
	char msg[128];
	snprintf(msg, sizeof msg, "truncated token file (cut inside %s)",
	    what);
	return r_bad(r, r->off, msg);
}

/* Check a metadata payload's prefix and CRC; payload is in r->meta. */
static int
r_check_meta(ft_tokr *r, uint64_t off, size_t n, char *kind)
{
	const unsigned char *m = r->meta;

	if (n < PREFIX + 4 || memcmp(m, "FTOK", 4) != 0)
		return r_bad(r, off, "not a token file (bad magic)");
	if (m[4] != FMT_VERSION) {
		char msg[128];

		snprintf(msg, sizeof msg, "unsupported token file version %u "
		    "(this ft reads version %d)", m[4], FMT_VERSION);
		return r_bad(r, off, msg);
	}
	if (m[6] != 0 || m[7] != 0 ||
	    get32(m + n - 4) != crc32_update(0, m, n - 4))
		return r_bad(r, off, "corrupt metadata frame (bad checksum)");
	*kind = (char)m[5];
	return 0;
}

/* Read the next metadata frame into r->meta.  Returns 1 with *kind and
 * *len, 0 at a clean end of file, -1 after a message. */
static int
r_meta(ft_tokr *r, char *kind, size_t *len, uint64_t *start)
{
	unsigned char h[8];
	uint32_t magic, n;
	int rc;

	*start = r->off;
	rc = r_read(r, h, 8, "a frame header");
	if (rc <= 0)
		return rc;
	magic = get32(h);
	n = get32(h + 4);
	if (magic == ZSTD_MAGIC)
		return r_bad(r, *start, "unexpected zstd data frame "
		    "(corrupt or not a token file)");
	if (magic != SKIP_MAGIC)
		return r_bad(r, *start, r->nseg == 0 && !r->in_seg ?
		    "not a token file (bad magic)" : "corrupt frame (bad magic)");
	if (n < PREFIX + 4 || n > IDX_FIXED + 4 * (size_t)MAX_ENDS)
		return r_bad(r, *start, "corrupt metadata frame (bad size)");
	if (n > r->metacap) {
		r->meta = ft_realloc(r->meta, n);
		r->metacap = n;
	}
	rc = r_read(r, r->meta, n, "a metadata frame");
	if (rc == 0)
		rc = r_bad(r, r->off, "truncated token file (cut inside a "
		    "metadata frame)");
	if (rc < 0)
		return -1;
	if (r_check_meta(r, *start, n, kind) < 0)
		return -1;
	*len = n;
	return 1;
}

static int
r_header(ft_tokr *r, size_t n, uint64_t start)
{
	const unsigned char *m = r->meta;
	ft_tok_info in;
	int w;

	if (n != HDR_SIZE)
		return r_bad(r, start, "corrupt header frame (bad size)");
	w = m[8];
	memset(&in, 0, sizeof in);
	in.vocab_size = get32(m + 12);
	in.eos_id = (int32_t)get32(m + 16);
	memcpy(in.tok_hash, m + 20, 32);
	if (m[9] || m[10] || m[11] || in.vocab_size == 0 ||
	    w != id_bytes_for(in.vocab_size) || in.eos_id < -1 ||
	    (in.eos_id >= 0 && (uint32_t)in.eos_id >= in.vocab_size))
		return r_bad(r, start, "corrupt header frame (bad fields)");
	if (r->nseg > 0 && (in.vocab_size != r->info.vocab_size ||
	    in.eos_id != r->info.eos_id ||
	    memcmp(in.tok_hash, r->info.tok_hash, 32) != 0)) {
		char msg[160];

		snprintf(msg, sizeof msg, "mismatched segments (segment %llu "
		    "was made with a different tokenizer)",
		    (unsigned long long)r->nseg + 1);
		return r_bad(r, start, msg);
	}
	r->info = in;
	r->w = w;
	r->in_seg = 1;
	r->nseg++;
	r->seg_ids = r->seg_docs = r->seg_blocks = r->since_end = 0;
	r->idx_crc = 0;
	return 0;
}

static int
r_trailer(ft_tokr *r, size_t n, uint64_t start)
{
	const unsigned char *m = r->meta;

	if (n != TRL_SIZE)
		return r_bad(r, start, "corrupt trailer frame (bad size)");
	if (get64(m + 8) != r->seg_ids || get64(m + 16) != r->seg_docs ||
	    get64(m + 24) != r->seg_blocks || get32(m + 32) != r->idx_crc)
		return r_bad(r, start, "corrupt token file (trailer totals "
		    "do not match: frames missing or altered)");
	if (r->since_end != 0)
		return r_bad(r, start, "corrupt token file (segment ends "
		    "inside a document)");
	r->in_seg = 0;
	return 0;
}

/* Decode one data frame of n ids and csize bytes into r->raw. */
static int
r_data(ft_tokr *r, uint32_t n, uint32_t csize, uint32_t crc)
{
	size_t rawn = (size_t)n * r->w, got;
	uint64_t start = r->off;
	unsigned long long fcs;
	int rc;

	if (csize > r->ccap) {
		free(r->cbuf);
		r->cbuf = ft_malloc(csize);
		r->ccap = csize;
	}
	if (rawn > r->rawcap) {
		free(r->raw);
		r->raw = ft_malloc(rawn);
		r->rawcap = rawn;
	}
	rc = r_read(r, r->cbuf, csize, "a data frame");
	if (rc == 0)
		rc = r_bad(r, start, "truncated token file (missing data "
		    "frame)");
	if (rc < 0)
		return -1;
	/* The CRC covers every stored byte of the frame, including the
	 * header bits a zstd decoder would ignore. */
	if (crc32_update(0, r->cbuf, csize) != crc)
		return r_bad(r, start, "corrupt data frame (bad checksum)");
	if (get32(r->cbuf) != ZSTD_MAGIC ||
	    ZSTD_findFrameCompressedSize(r->cbuf, csize) != csize)
		return r_bad(r, start, "corrupt data frame (bad frame)");
	fcs = ZSTD_getFrameContentSize(r->cbuf, csize);
	if (fcs != rawn)
		return r_bad(r, start, "corrupt data frame (bad size)");
	got = ZSTD_decompressDCtx(r->dctx, r->raw, rawn, r->cbuf, csize);
	if (ZSTD_isError(got) || got != rawn)
		return r_bad(r, start, "corrupt data frame (decompression "
		    "failed)");
	/* Validate ids once per block (and widen uint16 in place later). */
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = r->raw + i * r->w;
		uint32_t id = r->w == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 :
		    get32(p);

		if (id >= r->info.vocab_size)
			return r_bad(r, start, "corrupt data frame (token id "
			    "out of range)");
	}
	return 0;
}

static int
r_index(ft_tokr *r, size_t len, uint64_t start)
{
	const unsigned char *m = r->meta;
	uint32_t n, csize, crc, ne, prev = 0;

	if (len < IDX_FIXED)
		return r_bad(r, start, "corrupt index frame (bad size)");
	n = get32(m + 8);
	csize = get32(m + 12);
	crc = get32(m + 16);
	ne = get32(m + 20);
	if (ne > MAX_ENDS || len != IDX_FIXED + 4 * (size_t)ne)
		return r_bad(r, start, "corrupt index frame (bad size)");
	if (n > MAX_IDS || (n == 0 && (csize != 0 || crc != 0)) ||
	    (n > 0 && (csize < 4 ||
	    csize > ZSTD_compressBound((size_t)n * r->w))))
		return r_bad(r, start, "corrupt index frame (bad fields)");
	if (ne > r->endcap) {
		free(r->ends);
		r->ends = ft_malloc(sizeof *r->ends * ne);
		r->endcap = ne;
	}
	for (uint32_t i = 0; i < ne; i++) {
		uint32_t e = get32(m + 24 + 4 * (size_t)i);

		if (e < prev || e > n)
			return r_bad(r, start, "corrupt index frame (bad "
			    "document boundaries)");
		r->ends[i] = prev = e;
	}
	r->idx_crc = crc32_update(r->idx_crc, m, len);
	if (n > 0 && r_data(r, n, csize, crc) < 0)
		return -1;
	r->blk_n = n;
	r->blk_pos = 0;
	r->n_ends = ne;
	r->end_i = 0;
	r->seg_ids += n;
	r->seg_docs += ne;
	r->seg_blocks++;
	r->since_end = ne > 0 ? n - r->ends[ne - 1] : r->since_end + n;
	return 0;
}

/* Load the next block.  1, 0 at the clean end, -1 after a message. */
static int
r_next_block(ft_tokr *r)
{
	char kind;
	size_t len;
	uint64_t start;
	int rc;

	for (;;) {
		rc = r_meta(r, &kind, &len, &start);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (r->in_seg)
				return r_bad(r, r->off, "truncated token file "
				    "(missing trailer)");
			r->done = 1;
			return 0;
		}
		switch (kind) {
		case 'H':
			if (r->in_seg)
				return r_bad(r, start, "corrupt token file "
				    "(header inside a segment)");
			if (r_header(r, len, start) < 0)
				return -1;
			break;
		case 'I':
			if (!r->in_seg)
				return r_bad(r, start, "corrupt token file "
				    "(index frame outside a segment)");
			return r_index(r, len, start) < 0 ? -1 : 1;
		case 'T':
			if (!r->in_seg)
				return r_bad(r, start, "corrupt token file "
				    "(trailer outside a segment)");
			if (r_trailer(r, len, start) < 0)
				return -1;
			break;
		default:
			return r_bad(r, start, "corrupt metadata frame "
			    "(unknown kind)");
		}
	}
}

ft_tokr *
ft_tokr_open_fp(FILE *fp, const char *name)
{
	ft_tokr *r = ft_calloc(1, sizeof *r);
	char kind;
	size_t len;
	uint64_t start;
	int rc;

	r->fp = fp;
	r->name = ft_strdup(name);
	r->dctx = ZSTD_createDCtx();
	if (r->dctx == NULL) {
		ft_error("'%s': cannot create a zstd context", name);
		goto fail;
	}
	rc = r_meta(r, &kind, &len, &start);
	if (rc == 0)
		ft_error("'%s': not a token file (empty)", name);
	if (rc <= 0)
		goto fail;
	if (kind != 'H') {
		r_bad(r, 0, "not a token file (no header frame)");
		goto fail;
	}
	if (r_header(r, len, start) < 0)
		goto fail;
	return r;
fail:
	ft_tokr_close(r);
	return NULL;
}

ft_tokr *
ft_tokr_open(const char *path)
{
	FILE *fp;
	ft_tokr *r;

	if (path == NULL || strcmp(path, "-") == 0)
		return ft_tokr_open_fp(stdin, "<stdin>");
	fp = fopen(path, "rb");
	if (fp == NULL) {
		ft_error("cannot open '%s':", path);
		return NULL;
	}
	r = ft_tokr_open_fp(fp, path);
	if (r == NULL)
		fclose(fp);
	else
		r->own = 1;
	return r;
}

const ft_tok_info *
ft_tokr_info(const ft_tokr *r)
{
	return &r->info;
}

uint64_t
ft_tokr_segments(const ft_tokr *r)
{
	return r->nseg;
}

int
ft_tokr_read(ft_tokr *r, uint32_t *buf, size_t cap, size_t *n,
    int *doc_end)
{
	*n = 0;
	*doc_end = 0;
	for (;;) {
		if (r->failed)
			return -1;
		if (r->end_i < r->n_ends && r->ends[r->end_i] == r->blk_pos) {
			r->end_i++;
			*doc_end = 1;
			return 1;
		}
		if (r->blk_pos < r->blk_n) {
			uint32_t lim = r->end_i < r->n_ends ?
			    r->ends[r->end_i] : r->blk_n;
			size_t k = lim - r->blk_pos;
			const unsigned char *p;

			if (k > cap - *n)
				k = cap - *n;
			if (k == 0)
				return 1;
			p = r->raw + (size_t)r->blk_pos * r->w;
			if (r->w == 2) {
				for (size_t i = 0; i < k; i++, p += 2)
					buf[*n + i] = (uint32_t)p[0] |
					    (uint32_t)p[1] << 8;
			} else {
				for (size_t i = 0; i < k; i++, p += 4)
					buf[*n + i] = get32(p);
			}
			*n += k;
			r->blk_pos += (uint32_t)k;
			continue;
		}
		if (r->done)
			return *n > 0 ? 1 : 0;
		switch (r_next_block(r)) {
		case -1:
			return -1;
		case 0:
			/* The trailer check guarantees no open document. */
			return *n > 0 ? 1 : 0;
		}
	}
}

void
ft_tokr_close(ft_tokr *r)
{
	if (r == NULL)
		return;
	if (r->own)
		fclose(r->fp);
	ZSTD_freeDCtx(r->dctx);
	free(r->meta);
	free(r->cbuf);
	free(r->raw);
	free(r->ends);
	free(r->name);
	free(r);
}

int
ft_tok_load(const char *path, ft_tok_data *d)
{
	ft_tokr *r;
	size_t cap = 0, dcap = 0, n;
	int doc_end, rc;

	memset(d, 0, sizeof *d);
	r = ft_tokr_open(path);
	if (r == NULL)
		return -1;
	d->info = r->info;
	ft_grow((void **)&d->doc_start, &dcap, 1, sizeof *d->doc_start);
	d->doc_start[0] = 0;
	for (;;) {
		ft_grow((void **)&d->ids, &cap, d->n_ids + 65536,
		    sizeof *d->ids);
		rc = ft_tokr_read(r, d->ids + d->n_ids, cap - d->n_ids, &n,
		    &doc_end);
		if (rc <= 0)
			break;
		d->n_ids += n;
		if (doc_end) {
			d->n_docs++;
			ft_grow((void **)&d->doc_start, &dcap, d->n_docs + 1,
			    sizeof *d->doc_start);
			d->doc_start[d->n_docs] = d->n_ids;
		}
	}
	ft_tokr_close(r);
	if (rc < 0) {
		ft_tok_data_free(d);
		return -1;
	}
	return 0;
}

void
ft_tok_data_free(ft_tok_data *d)
{
	if (d == NULL)
		return;
	free(d->ids);
	free(d->doc_start);
	memset(d, 0, sizeof *d);
}

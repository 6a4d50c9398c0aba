/* libFuzzer target: arbitrary bytes read as a token file through
 * ft_tokr_open_fp on an in-memory stream, to the end or the first error.
 * Each input is read twice: as given, and with every CRC and trailer total
 * repaired as a writer would have computed them (see ft-formats(5)), so
 * the fuzzer also reaches the checks behind the checksums.  Errors are
 * expected; crashes, leaks and hangs are not. */
#include "tokfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
	}
	return ~crc;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Repair the checksums and totals of the metadata frames in place. */
static void
repair(uint8_t *b, size_t size)
{
	size_t i = 0;
	uint32_t icrc = 0;
	uint64_t ids = 0, docs = 0, blocks = 0;

	while (size - i >= 8 && get32(b + i) == 0x184D2A5Eu) {
		size_t n = get32(b + i + 4);
		uint8_t *p = b + i + 8;

		if (n < 12 || n > size - i - 8)
			break;
		i += 8 + n;
		if (p[5] == 'H') {
			icrc = 0;
			ids = docs = blocks = 0;
		} else if (p[5] == 'I' && n >= 28) {
			size_t csize = get32(p + 12);

			if (csize <= size - i) {
				put32(p + 16, crc32(0, b + i, csize));
				i += csize;
			}
			ids += get32(p + 8);
			docs += get32(p + 20);
			blocks++;
		} else if (p[5] == 'T' && n >= 40) {
			put64(p + 8, ids);
			put64(p + 16, docs);
			put64(p + 24, blocks);
			put32(p + 32, icrc);
		}
		put32(p + n - 4, crc32(0, p, n - 4));
		if (p[5] == 'I')
			icrc = crc32(icrc, p, n);
	}
}

static void
read_all(const uint8_t *data, size_t size)
{
	uint32_t buf[333];
	size_t n;
	int doc_end;
	FILE *fp;
	ft_tokr *r;

	fp = size > 0 ? fmemopen((void *)data, size, "rb") :
	    fopen("/dev/null", "rb");
	if (fp == NULL)
		return;
	r = ft_tokr_open_fp(fp, "fuzz.tok");
	if (r != NULL) {
		const ft_tok_info *info = ft_tokr_info(r);

		while (ft_tokr_read(r, buf, sizeof buf / sizeof buf[0], &n,
		    &doc_end) > 0)
			for (size_t i = 0; i < n; i++)
				if (buf[i] >= info->vocab_size)
					__builtin_trap();
		ft_tokr_close(r);
	}
	fclose(fp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	uint8_t *copy;

	/* Silence the library's messages by pointing the stdio stderr at
	 * /dev/null; libFuzzer and the sanitizers keep writing to fd 2. */
	if (!quiet) {
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL)
			stderr = null;
		quiet = 1;
	}
	read_all(data, size);
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	repair(copy, size);
	read_all(copy, size);
	free(copy);
	return 0;
}

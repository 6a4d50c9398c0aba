/* Tiny reader for the engine's reference fixtures (tests/fixtures/gpt2),
 * independent of lib/safetensors so the math tests stand alone. */
#ifndef FT_GPT2_FIXTURE_H
#define FT_GPT2_FIXTURE_H

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fix {
	unsigned char *buf;
	size_t size, data;
	cJSON *hdr;
};

static inline int
fix_open(struct fix *f, const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint64_t n = 0;

	memset(f, 0, sizeof(*f));
	if (fp == NULL)
		return -1;
	fseek(fp, 0, SEEK_END);
	f->size = (size_t)ftell(fp);
	rewind(fp);
	f->buf = malloc(f->size);
	if (fread(f->buf, 1, f->size, fp) != f->size) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	for (int i = 7; i >= 0; i--)
		n = n << 8 | f->buf[i];
	f->hdr = cJSON_ParseWithLength((const char *)f->buf + 8, (size_t)n);
	f->data = 8 + (size_t)n;
	return f->hdr != NULL ? 0 : -1;
}

static inline void
fix_close(struct fix *f)
{
	cJSON_Delete(f->hdr);
	free(f->buf);
}

/* Pointer to the raw data of a tensor, *n elements (NULL if absent). */
static inline const void *
fix_get(const struct fix *f, const char *name, size_t *n)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->hdr, name), *o;
	double b, e;

	if (t == NULL)
		return NULL;
	o = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
	b = cJSON_GetArrayItem(o, 0)->valuedouble;
	e = cJSON_GetArrayItem(o, 1)->valuedouble;
	if (n != NULL)
		*n = (size_t)(e - b) / 4;
	return f->buf + f->data + (size_t)b;
}

static inline const char *
fix_meta(const struct fix *f, const char *key)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(f->hdr, "__metadata__");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif

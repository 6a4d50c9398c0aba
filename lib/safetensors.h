/* safetensors — mmap reader with full validation, and writer, following
 * docs/hf-reference.md §7.  Errors name the file and, where there is one, the
 * tensor. */
#ifndef FT_SAFETENSORS_H
#define FT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

typedef enum ft_dtype {
	FT_BOOL, FT_U8, FT_I8, FT_I16, FT_U16, FT_F16, FT_BF16, FT_I32,
	FT_U32, FT_F32, FT_F64, FT_I64, FT_U64,
	FT_DTYPE_COUNT
} ft_dtype;

const char *ft_dtype_name(ft_dtype t);
size_t ft_dtype_size(ft_dtype t);

#define FT_ST_MAX_DIMS 8

typedef struct ft_st_tensor {
	char *name;
	ft_dtype dtype;
	int ndim;
	int64_t shape[FT_ST_MAX_DIMS];
	size_t nelem;
	size_t begin, end;       /* offsets in the data buffer */
	const void *data;        /* into the mapping */
} ft_st_tensor;

typedef struct ft_st_file {
	char *path;
	ft_map map;
	ft_st_tensor *tensors;   /* in header order */
	size_t n;
	char **meta_keys, **meta_vals; /* __metadata__ */
	size_t n_meta;
} ft_st_file;

/* Map and validate.  0 or -1 after a message. */
int ft_st_open(ft_st_file *f, const char *path);
/* Validate a header and data buffer already in memory (for fuzzing and
 * tests); the same checks as ft_st_open.  name is for messages. */
int ft_st_parse(ft_st_file *f, const unsigned char *buf, size_t size,
    const char *name);
const ft_st_tensor *ft_st_find(const ft_st_file *f, const char *name);
const char *ft_st_meta(const ft_st_file *f, const char *key);
/* Copy a tensor as float32, converting F16/BF16/F64 (others refused with
 * a message naming the tensor).  0 or -1. */
int ft_st_read_f32(const ft_st_file *f, const ft_st_tensor *t, float *out);
void ft_st_close(ft_st_file *f);

/* Writer: byte-identical to the reference writer's rules (order by dtype
 * alignment desc then name, compact header, __metadata__ first, space
 * padding to 8 bytes).  Written atomically to path.  0 or -1. */
typedef struct ft_st_entry {
	const char *name;
	ft_dtype dtype;
	int ndim;
	const int64_t *shape;
	const void *data;
} ft_st_entry;
int ft_st_write(const char *path, const ft_st_entry *e, size_t n,
    const char *const *meta_keys, const char *const *meta_vals,
    size_t n_meta);

#endif

/* weights — loading and saving the decoder's weights as safetensors
 * (docs/hf-reference.md §7, §8, §13, §16) under the architecture's HF
 * names (the optimizer state's file is lib/optim's).  Kept apart from
 * decoder.c so the math links without the safetensors module. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "io.h"
#include "model/arch.h"
#include "modeldir.h"
#include "quant.h"
#include "safetensors.h"

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The table name of a file tensor (the architecture's prefix, e.g.
 * "transformer.", stripped); NULL for buffers that are ignored. */
static const char *
canon(const struct ft_arch *a, const char *name)
{
	size_t k = strlen(a->prefix);

	if (k > 0 && strncmp(name, a->prefix, k) == 0)
		name += k;
	if (a->ignored(name))
		return NULL;
	return name;
}

struct src {
	const char *name;          /* canonical */
	const ft_st_file *file;
	const ft_st_tensor *t;
};

struct files {
	ft_st_file *f;
	size_t n;
	struct src *s;
	size_t ns;
};

static void
files_close(struct files *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		ft_st_close(&fs->f[i]);
	free(fs->f);
	free(fs->s);
	memset(fs, 0, sizeof(*fs));
}

static const struct src *
find_src(const struct files *fs, const char *name)
{
	for (size_t i = 0; i < fs->ns; i++)
		if (strcmp(fs->s[i].name, name) == 0)
			return &fs->s[i];
	return NULL;
}

static int
open_one(struct files *fs, const char *path)
{
	ft_st_file *f;

	fs->f = ft_realloc(fs->f, (fs->n + 1) * sizeof(*fs->f));
	f = &fs->f[fs->n];
	if (ft_st_open(f, path) < 0)
		return -1;
	fs->n++;
	return 0;
}

/* Open a .safetensors file or every shard of an index. */
static int
files_open(struct files *fs, const char *path, const struct ft_arch *a)
{
	memset(fs, 0, sizeof(*fs));
	if (ends_with(path, ".json")) {
		char *dir, *slash, **shards;
		size_t ns;
		int rc = 0;

		if (ft_model_index_shards(path, path, &shards, &ns) != 0)
			return -1;
		dir = ft_strdup(path);
		slash = strrchr(dir, '/');
		if (slash != NULL)
			slash[1] = '\0';
		else
			dir[0] = '\0';
		for (size_t k = 0; rc == 0 && k < ns; k++) {
			char *p = ft_asprintf("%s%s", dir, shards[k]);

			rc = open_one(fs, p);
			free(p);
		}
		free(dir);
		ft_names_free(shards, ns);
		if (rc < 0) {
			files_close(fs);
			return -1;
		}
	} else if (open_one(fs, path) < 0) {
		files_close(fs);
		return -1;
	}
	for (size_t i = 0; i < fs->n; i++)
		for (size_t j = 0; j < fs->f[i].n; j++) {
			const ft_st_tensor *t = &fs->f[i].tensors[j];
			const char *c = canon(a, t->name);
			const struct src *d;
			if (c == NULL)
				continue;
			d = find_src(fs, c);
			if (d != NULL) {
				ft_error("%s: tensor '%s' appears twice (as '%s')",
				    fs->f[i].path, t->name, d->t->name);
				files_close(fs);
				return -1;
			}
			fs->s = ft_realloc(fs->s, (fs->ns + 1) * sizeof(*fs->s));
			fs->s[fs->ns++] = (struct src){ c, &fs->f[i], t };
		}
	return 0;
}

static int
read_tensor(const struct src *s, const ft_param_tensor *want, float *out)
{
	const ft_st_tensor *t = s->t;
	int ok = t->ndim == want->ndim;

	for (int d = 0; ok && d < t->ndim; d++)
		ok = t->shape[d] == want->shape[d];
	if (!ok) {
		char have[128] = "", need[64];
		size_t k = 0;
		for (int d = 0; d < t->ndim && k < sizeof(have) - 24; d++)
			k += (size_t)snprintf(have + k, sizeof(have) - k, "%s%lld",
			    d ? ", " : "", (long long)t->shape[d]);
		if (want->ndim == 1)
			snprintf(need, sizeof(need), "%lld",
			    (long long)want->shape[0]);
		else
			snprintf(need, sizeof(need), "%lld, %lld",
			    (long long)want->shape[0], (long long)want->shape[1]);
		return ft_error("%s: tensor '%s' has shape [%s], expected [%s]",
		    s->file->path, t->name, have, need);
	}
	if (t->dtype != FT_F32 && t->dtype != FT_F16 && t->dtype != FT_BF16 &&
	    t->dtype != FT_F64)
		return ft_error("%s: tensor '%s' has dtype %s, expected F32, F16 "
		    "or BF16", s->file->path, t->name, ft_dtype_name(t->dtype));
	if (ft_st_read_f32(s->file, t, out) < 0)
		return -1;
	for (size_t i = 0; i < want->n; i++)
		if (!isfinite(out[i]))
			return ft_error("%s: tensor '%s' holds %s at element %zu",
			    s->file->path, t->name, isnan(out[i]) ? "NaN" :
			    "Inf", i);
	return 0;
}

/* Make m untied, keeping its parameters. */
static int
untie(ft_model *m)
{
	ft_model n;

	if (ft_model_new(&n, &m->cfg, 1) < 0)
		return -1;
	for (size_t i = 0; i < m->n_tensors; i++)
		memcpy(n.params + n.tensors[i].off, m->params + m->tensors[i].off,
		    m->tensors[i].n * sizeof(float));
	n.threads = m->threads;
	n.training = m->training;
	n.dropout_seed = m->dropout_seed;
	n.dropout_counter = m->dropout_counter;
	n.embd_pdrop = m->embd_pdrop;
	n.attn_pdrop = m->attn_pdrop;
	n.resid_pdrop = m->resid_pdrop;
	n.src_config = m->src_config;
	m->src_config = NULL;
	ft_model_release(m);
	*m = n;
	return 0;
}

/* The token embedding's entry in the table. */
static const ft_param_tensor *
emb_tensor(const ft_model *m)
{
	for (size_t i = 0; i < m->n_tensors; i++)
		if (m->params + m->tensors[i].off == m->p.emb)
			return &m->tensors[i];
	ft_die("model without a token embedding");
	return NULL;
}

int
ft_model_load_weights(ft_model *m, const char *path)
{
	struct files fs;
	char list[1024];
	size_t k = 0;
	int missing = 0, unexpected = 0, rc = -1;
	const struct src *lm;

	if (files_open(&fs, path, m->cfg.arch) < 0)
		return -1;
	for (size_t i = 0; i < fs.ns; i++) {
		int known = strcmp(fs.s[i].name, "lm_head.weight") == 0;
		for (size_t j = 0; !known && j < m->n_tensors; j++)
			known = strcmp(m->tensors[j].name, fs.s[i].name) == 0;
		if (!known)
			ft_name_list(list, sizeof(list), &k, fs.s[i].t->name, &unexpected);
	}
	if (unexpected) {
		ft_error("%s: unexpected tensor%s %s", path,
		    unexpected > 1 ? "s" : "", list);
		goto out;
	}
	lm = find_src(&fs, "lm_head.weight");
	for (size_t j = 0; j < m->n_tensors; j++) {
		const char *nm = m->tensors[j].name;
		if (find_src(&fs, nm) == NULL &&
		    !(strcmp(nm, "lm_head.weight") == 0 && lm == NULL &&
		    m->cfg.tie_word_embeddings))
			ft_name_list(list, sizeof(list), &k, nm, &missing);
	}
	if (missing) {
		ft_error("%s: missing tensor%s %s", path, missing > 1 ? "s" : "",
		    list);
		goto out;
	}
	if (lm != NULL && !m->untied) {
		/* tied unless the stored head differs from the embedding */
		const ft_param_tensor *wt = emb_tensor(m);
		float *tmp = ft_malloc(wt->n * sizeof(float));
		int same;
		if (read_tensor(lm, wt, tmp) < 0 ||
		    read_tensor(find_src(&fs, wt->name), wt,
		    m->params + wt->off) < 0) {
			free(tmp);
			goto out;
		}
		same = memcmp(tmp, m->params + wt->off, wt->n * sizeof(float)) == 0;
		free(tmp);
		if (!same && untie(m) < 0)
			goto out;
	}
	for (size_t j = 0; j < m->n_tensors; j++) {
		const ft_param_tensor *t = &m->tensors[j];
		const struct src *s = find_src(&fs, t->name);
		if (s == NULL) /* untied head missing: start from the embedding */
			memcpy(m->params + t->off, m->p.emb, t->n * sizeof(float));
		else if (read_tensor(s, t, m->params + t->off) < 0)
			goto out;
	}
	rc = 0;
out:
	files_close(&fs);
	return rc;
}

int
ft_model_load(ft_model *m, const char *dir)
{
	ft_model_config cfg;
	char *p = ft_path_join(dir, "config.json"), *w;
	cJSON *src = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = ft_model_config_load_keep(&cfg, p, &src);
	free(p);
	if (rc < 0)
		return -1;
	if (ft_model_new(m, &cfg, !cfg.tie_word_embeddings) < 0) {
		cJSON_Delete(src);
		return -1;
	}
	m->src_config = src;
	if ((w = ft_model_weights_path(dir)) == NULL) {
		ft_model_release(m);
		return -1;
	}
	rc = ft_model_load_weights(m, w);
	free(w);
	if (rc < 0)
		ft_model_release(m);
	return rc;
}

int
ft_model_save(const ft_model *m, const char *path)
{
	size_t n = m->n_tensors;
	ft_st_entry *e = ft_calloc(n, sizeof(*e));
	char **names = ft_calloc(n, sizeof(*names));
	const char *mk[1] = { "format" }, *mv[1] = { "pt" };
	ft_bf16 *h = NULL;
	int rc;

	if (m->quant != NULL) {
		free(e);
		free(names);
		return ft_error("'%s': a quantised model is not saved", path);
	}
	if (m->save_bf16) {
		h = ft_malloc(m->n_params * sizeof(*h));
		ft_bf16_from_f32(h, m->params, m->n_params, m->threads);
	}

	for (size_t i = 0; i < n; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		names[i] = strcmp(t->name, "lm_head.weight") == 0 ?
		    ft_strdup(t->name) : ft_asprintf("%s%s", m->cfg.arch->prefix,
		    t->name);
		e[i].name = names[i];
		e[i].dtype = h != NULL ? FT_BF16 : FT_F32;
		e[i].ndim = t->ndim;
		e[i].shape = t->shape;
		e[i].data = h != NULL ? (const void *)(h + t->off) :
		    (const void *)(m->params + t->off);
	}
	rc = ft_st_write(path, e, n, mk, mv, 1);
	free(h);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(e);
	return rc;
}

int
ft_model_save_dir(const ft_model *m, const char *dir)
{
	char *p;
	int rc;

	if (ft_mkdir_p(dir, 0777) < 0)
		return -1;
	p = ft_path_join(dir, "config.json");
	rc = ft_model_config_save(m, p);
	free(p);
	if (rc < 0)
		return -1;
	p = ft_path_join(dir, "model.safetensors");
	rc = ft_model_save(m, p);
	free(p);
	return rc;
}

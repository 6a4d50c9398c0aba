/* config — config.json for every architecture: which file handles a
 * model_type, typed key readers that name the key on refusal, and the
 * writer that keeps the source config's keys (docs/hf-reference.md §13: sorted
 * keys, 2-space indent, as transformers' to_json_string). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "model/arch.h"

static const struct ft_arch *const archs[] = { &ft_arch_gpt2, &ft_arch_llama,
	&ft_arch_mistral, &ft_arch_qwen2, &ft_arch_qwen3 };
#define N_ARCHS (sizeof archs / sizeof *archs)

/* ---- readers ---- */

int
ft_cfg_int(const cJSON *o, const char *k, int *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
	    fabs(it->valuedouble) > 2e9)
		return ft_error("%s: \"%s\" must be an integer", path, k);
	*v = (int)it->valuedouble;
	return 0;
}

int
ft_cfg_num(const cJSON *o, const char *k, double *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it))
		return ft_error("%s: \"%s\" must be a number", path, k);
	*v = it->valuedouble;
	return 0;
}

int
ft_cfg_bool(const cJSON *o, const char *k, int *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsBool(it))
		return ft_error("%s: \"%s\" must be true or false", path, k);
	*v = cJSON_IsTrue(it);
	return 0;
}

int
ft_cfg_token(const cJSON *o, const char *k, int *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsArray(it)) {
		if (cJSON_GetArraySize(it) == 0)
			return 0;
		it = cJSON_GetArrayItem(it, 0);
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
		    it->valuedouble != floor(it->valuedouble))
			return ft_error("%s: \"%s\" must hold integers", path, k);
		*v = (int)it->valuedouble;
		return 0;
	}
	return ft_cfg_int(o, k, v, path);
}

int
ft_cfg_want_bool(const cJSON *o, const char *k, int ok, const char *path)
{
	int v = ok;

	if (ft_cfg_bool(o, k, &v, path) < 0)
		return -1;
	if (v != ok)
		return ft_error("%s: \"%s\": %s is not supported", path, k,
		    ok ? "false" : "true");
	return 0;
}

/* ---- setters ---- */

void
ft_cfg_set(cJSON *o, const char *k, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(o, k) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, k, item);
	else
		cJSON_AddItemToObject(o, k, item);
}

void
ft_cfg_default(cJSON *o, const char *k, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(o, k) == NULL)
		cJSON_AddItemToObject(o, k, item);
	else
		cJSON_Delete(item);
}

void
ft_cfg_set_float(cJSON *o, const char *k, double v)
{
	char b[32];

	ft_pyfloat(b, sizeof b, v);
	ft_cfg_set(o, k, cJSON_CreateRaw(b));
}

void
ft_cfg_set_int(cJSON *o, const char *k, long long v)
{
	char b[32];

	snprintf(b, sizeof b, "%lld", v);
	ft_cfg_set(o, k, cJSON_CreateRaw(b));
}

void
ft_cfg_set_bool(cJSON *o, const char *k, int v)
{
	ft_cfg_set(o, k, cJSON_CreateBool(v));
}

void
ft_cfg_set_str(cJSON *o, const char *k, const char *v)
{
	ft_cfg_set(o, k, cJSON_CreateString(v));
}

/* ---- load ---- */

/* Read path into c; *keep (if not NULL) receives the parsed object. */
static int
config_read(ft_model_config *c, const char *path, cJSON **keep)
{
	cJSON *o;
	const cJSON *mt;
	const struct ft_arch *a = &ft_arch_gpt2;
	int rc;

	if ((o = ft_json_load(path)) == NULL)
		return -1;
	mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
	if (mt != NULL && !cJSON_IsNull(mt)) {
		a = NULL;
		for (size_t i = 0; cJSON_IsString(mt) && i < N_ARCHS; i++)
			if (strcmp(mt->valuestring, archs[i]->model_type) == 0)
				a = archs[i];
		if (a == NULL) {
			ft_error("%s: \"model_type\": %s%s%s is not supported (gpt2, "
			    "llama, mistral, qwen2, qwen3)", path,
			    cJSON_IsString(mt) ? "'" : "",
			    cJSON_IsString(mt) ? mt->valuestring : "value",
			    cJSON_IsString(mt) ? "'" : "");
			cJSON_Delete(o);
			return -1;
		}
	}
	memset(c, 0, sizeof(*c));
	c->arch = a;
	c->bos_token_id = c->eos_token_id = -1;
	rc = a->config_read(c, o, path);
	if (rc == 0)
		rc = ft_model_config_check(c, path);
	if (rc == 0 && keep != NULL)
		*keep = o;
	else
		cJSON_Delete(o);
	return rc;
}

int
ft_model_config_load(ft_model_config *c, const char *path)
{
	return config_read(c, path, NULL);
}

int
ft_model_config_load_keep(ft_model_config *c, const char *path, cJSON **o)
{
	return config_read(c, path, o);
}

/* ---- presets ---- */

int
ft_model_preset(const char *name, ft_model_config *c)
{
	for (size_t i = 0; i < N_ARCHS; i++)
		if (archs[i]->preset != NULL && archs[i]->preset(name, c) == 0)
			return 0;
	return -1;
}

const char *
ft_model_type(const ft_model_config *c)
{
	return c->arch != NULL ? c->arch->model_type : ft_arch_gpt2.model_type;
}

const char *
ft_model_preset_names(void)
{
	return "gpt2-micro, gpt2-tiny, gpt2-mini, distilgpt2, gpt2, "
	    "llama-micro, llama-tiny, smollm2-135m, qwen3-tiny, qwen3-0.6b";
}

/* ---- save ---- */

int
ft_model_config_save(const ft_model *m, const char *path)
{
	cJSON *o = m->src_config != NULL ?
	    cJSON_Duplicate(m->src_config, 1) : cJSON_CreateObject();
	ft_atomic a;

	m->cfg.arch->config_write(&m->cfg, m->untied, o);
	if (m->save_bf16)
		ft_cfg_set_str(o, "torch_dtype", "bfloat16");
	if (ft_atomic_open(&a, path) < 0) {
		cJSON_Delete(o);
		return -1;
	}
	ft_json_put_pretty(a.fp, o);
	fputc('\n', a.fp);
	cJSON_Delete(o);
	return ft_atomic_commit(&a);
}

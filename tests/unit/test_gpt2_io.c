/* GPT-2 weights I/O: loading the fixture model directories (prefixed names
 * with attn.bias buffers; bare names with a distinct lm_head), saving and
 * reloading bit-exactly, error messages for missing / unexpected / badly
 * shaped tensors, refused config keys, F16 conversion, and the optimizer
 * state round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "model/model.h"
#include "gpt2_fixture.h"
#include "io.h"
#include "jsonl.h"
#include "optim.h"
#include "safetensors.h"

static char tmpdir[] = "/tmp/ft-gpt2-io-XXXXXX";

static char *
tpath(const char *name)
{
	return ft_path_join(tmpdir, name);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static int
same_params(const ft_model *a, const ft_model *b)
{
	if (a->n_tensors != b->n_tensors)
		return 0;
	for (size_t i = 0; i < a->n_tensors; i++)
		if (strcmp(a->tensors[i].name, b->tensors[i].name) != 0 ||
		    memcmp(a->params + a->tensors[i].off,
		    b->params + b->tensors[i].off,
		    a->tensors[i].n * sizeof(float)) != 0)
			return 0;
	return 1;
}

static void
test_fixture_dirs(void)
{
	ft_model m, r;
	struct fix f;
	size_t n;
	char *p;

	CHECK(ft_model_load(&m, "tests/fixtures/gpt2/a") == 0);
	CHECK(!m.untied);
	CHECK(fix_open(&f, "tests/fixtures/gpt2/a/model.safetensors") == 0);
	CHECK(memcmp(fix_get(&f, "transformer.h.1.mlp.c_fc.weight", &n),
	    m.p.h[1].up_w, 30 * 120 * 4) == 0);
	fix_close(&f);
	p = tpath("a");
	CHECK(ft_model_save_dir(&m, p) == 0);
	CHECK(ft_model_load(&r, p) == 0);
	CHECK(same_params(&m, &r));
	CHECK_EQ_INT(r.cfg.n_inner, 120);
	ft_model_release(&r);
	free(p);
	ft_model_release(&m);

	CHECK(ft_model_load(&m, "tests/fixtures/gpt2/b") == 0);
	CHECK(m.untied);
	CHECK(m.p.head != NULL);
	p = tpath("b");
	CHECK(ft_model_save_dir(&m, p) == 0);
	CHECK(ft_model_load(&r, p) == 0);
	CHECK(r.untied);
	CHECK(same_params(&m, &r));
	ft_model_release(&r);
	free(p);
	ft_model_release(&m);
}

/* Saving keeps the keys of the config the model was loaded from. */
static void
test_config_keys(void)
{
	ft_model m, r;
	char *d = tpath("keys"), *d2 = tpath("keys2"), *p, *text = NULL;
	size_t len;
	cJSON *o;

	CHECK(ft_model_load(&m, "tests/fixtures/gpt2/a") == 0);
	CHECK(ft_read_file("tests/fixtures/gpt2/a/config.json", &text,
	    &len) == 0);
	CHECK(ft_mkdir_p(d, 0777) == 0);
	p = ft_path_join(d, "config.json");
	/* the fixture's keys plus two that ft has no use for */
	text[len - 2] = '\0'; /* drop "}\n" */
	{
		FILE *f = fopen(p, "w");
		fprintf(f, "%s,\n  \"_name_or_path\": \"distilgpt2\",\n"
		    "  \"task_specific_params\": {\"text-generation\": "
		    "{\"do_sample\": true, \"max_length\": 50}}\n}\n", text);
		fclose(f);
	}
	free(p);
	p = ft_path_join(d, "model.safetensors");
	CHECK(ft_model_save(&m, p) == 0);
	free(p);
	CHECK(ft_model_load(&r, d) == 0);
	CHECK(ft_model_save_dir(&r, d2) == 0);
	p = ft_path_join(d2, "config.json");
	o = ft_json_load(p);
	CHECK(o != NULL);
	CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o,
	    "_name_or_path")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o,
	    "task_specific_params"), "text-generation"), "do_sample")));
	CHECK(cJSON_GetObjectItemCaseSensitive(o, "n_embd")->valuedouble == 30);
	cJSON_Delete(o);
	ft_model_release(&r);
	ft_model_release(&m);
	free(p);
	free(text);
	free(d);
	free(d2);
}

static ft_model_config
tiny(void)
{
	ft_model_config c;

	ft_model_preset("distilgpt2", &c);
	c.n_layer = 1;
	c.n_embd = 8;
	c.n_head = 2;
	c.n_positions = 4;
	c.vocab_size = 5;
	c.n_inner = 12;
	return c;
}

/* Write the tensors of m under names from fn (NULL skips). */
static int
write_variant(const ft_model *m, const char *path, const char *(*fn)(
    const char *, char *), int half)
{
	ft_st_entry e[64] = { { 0 } };
	char names[64][96];
	uint16_t *h[64];
	size_t k = 0;
	int rc;
	int64_t shp[64][2];

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		const char *nm = fn(t->name, names[k]);
		if (nm == NULL)
			continue;
		e[k].name = nm;
		e[k].ndim = t->ndim;
		memcpy(shp[k], t->shape, sizeof(shp[k]));
		if (strcmp(t->name, "h.0.mlp.c_fc.weight") == 0 && half == 2)
			shp[k][1] = 11; /* wrong shape */
		e[k].shape = shp[k];
		h[k] = NULL;
		if (half == 1) {
			h[k] = malloc(t->n * 2);
			for (size_t j = 0; j < t->n; j++)
				h[k][j] = 0x3800; /* 0.5 in F16 */
			e[k].dtype = FT_F16;
			e[k].data = h[k];
		} else {
			e[k].dtype = FT_F32;
			e[k].data = m->params + t->off;
		}
		k++;
	}
	rc = ft_st_write(path, e, k, NULL, NULL, 0);
	for (size_t i = 0; i < k; i++)
		free(h[i]);
	return rc;
}

static const char *
same_name(const char *n, char *buf)
{
	snprintf(buf, 96, "%s", n);
	return buf;
}

static const char *
drop_fc(const char *n, char *buf)
{
	if (strcmp(n, "h.0.mlp.c_fc.bias") == 0)
		return NULL;
	return same_name(n, buf);
}

static const char *
odd_name(const char *n, char *buf)
{
	if (strcmp(n, "ln_f.bias") == 0)
		n = "ln_g.bias";
	return same_name(n, buf);
}

static void
test_errors(void)
{
	ft_model_config c = tiny();
	ft_model m;
	char *p = tpath("w.safetensors"), *cp = tpath("config.json");

	CHECK(ft_model_new(&m, &c, 0) == 0);
	ft_model_init_random(&m, 7);
	fprintf(stderr, "expected errors follow:\n");
	CHECK(write_variant(&m, p, drop_fc, 0) == 0);
	CHECK(ft_model_load_weights(&m, p) == -1);
	CHECK(write_variant(&m, p, odd_name, 0) == 0);
	CHECK(ft_model_load_weights(&m, p) == -1);
	CHECK(write_variant(&m, p, same_name, 2) == 0);
	CHECK(ft_model_load_weights(&m, p) == -1);
	CHECK(write_variant(&m, p, same_name, 1) == 0);
	CHECK(ft_model_load_weights(&m, p) == 0);
	CHECK(m.p.h[0].up_w[3] == 0.5f && m.p.emb[0] == 0.5f);
	/* non-finite weights are refused naming the tensor */
	m.p.h[0].o_w[5] = NAN;
	CHECK(ft_model_save(&m, p) == 0);
	CHECK(ft_model_load_weights(&m, p) == -1);
	m.p.h[0].o_w[5] = -INFINITY;
	CHECK(ft_model_save(&m, p) == 0);
	CHECK(ft_model_load_weights(&m, p) == -1);
	m.p.h[0].o_w[5] = 0.25f;
	CHECK(ft_model_save(&m, p) == 0);
	CHECK(ft_model_load_weights(&m, p) == 0);

	write_file(cp, "{\"n_layer\": 1, \"scale_attn_by_inverse_layer_idx\": true}");
	CHECK(ft_model_config_load(&c, cp) == -1);
	write_file(cp, "{\"activation_function\": \"relu\"}");
	CHECK(ft_model_config_load(&c, cp) == -1);
	write_file(cp, "{\"reorder_and_upcast_attn\": true}");
	CHECK(ft_model_config_load(&c, cp) == -1);
	write_file(cp, "{\"n_embd\": 10, \"n_head\": 3}");
	CHECK(ft_model_config_load(&c, cp) == -1);
	/* transformers would build a 0-wide MLP */
	write_file(cp, "{\"n_inner\": 0}");
	CHECK(ft_model_config_load(&c, cp) == -1);
	write_file(cp, "{\"n_layer\": 2, \"n_embd\": 12, \"n_head\": 3, "
	    "\"n_inner\": null, \"activation_function\": \"gelu_pytorch_tanh\"}");
	CHECK(ft_model_config_load(&c, cp) == 0);
	CHECK_EQ_INT(c.n_inner, 48);
	CHECK_EQ_INT(c.n_layer, 2);
	CHECK(c.tie_word_embeddings);
	fprintf(stderr, "end of expected errors\n");
	ft_model_release(&m);
	free(p);
	free(cp);
}

/* Two shards and an index, with "transformer." names. */
static void
test_shards(void)
{
	ft_model_config c = tiny();
	ft_model m, r;
	ft_st_entry e[2][64];
	char names[64][96];
	size_t k[2] = { 0, 0 };
	char *dir = tpath("sharded"), *p1, *p2, *ix, *cf;
	FILE *f;

	CHECK(ft_model_new(&m, &c, 0) == 0);
	ft_model_init_random(&m, 11);
	CHECK(ft_mkdir_p(dir, 0777) == 0);
	p1 = ft_path_join(dir, "model-00001-of-00002.safetensors");
	p2 = ft_path_join(dir, "model-00002-of-00002.safetensors");
	ix = ft_path_join(dir, "model.safetensors.index.json");
	cf = ft_path_join(dir, "config.json");
	f = fopen(ix, "w");
	fprintf(f, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
	for (size_t i = 0; i < m.n_tensors; i++) {
		const ft_param_tensor *t = &m.tensors[i];
		int s = i % 2;
		ft_st_entry *x = &e[s][k[s]++];
		snprintf(names[i], sizeof(names[i]), "transformer.%s", t->name);
		x->name = names[i];
		x->dtype = FT_F32;
		x->ndim = t->ndim;
		x->shape = t->shape;
		x->data = m.params + t->off;
		fprintf(f, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
		    i ? ", " : "", names[i], s + 1);
	}
	fprintf(f, "}}\n");
	fclose(f);
	CHECK(ft_st_write(p1, e[0], k[0], NULL, NULL, 0) == 0);
	CHECK(ft_st_write(p2, e[1], k[1], NULL, NULL, 0) == 0);
	CHECK(ft_model_config_save(&m, cf) == 0);
	CHECK(ft_model_load(&r, dir) == 0);
	CHECK(same_params(&m, &r));
	ft_model_release(&r);
	ft_model_release(&m);
	free(p1);
	free(p2);
	free(ix);
	free(cf);
	free(dir);
}

static void
test_optim_state(void)
{
	ft_model_config c = tiny();
	ft_model m;
	ft_adamw o, r;
	char *p = tpath("optim.safetensors");

	CHECK(ft_model_new(&m, &c, 0) == 0);
	ft_adamw_init(&o, m.n_params);
	for (size_t i = 0; i < m.n_params; i++) {
		o.m[i] = (float)i * 0.25f;
		o.v[i] = (float)i * 0.5f;
	}
	o.step = 42;
	CHECK(ft_adamw_save(&o, p, m.tensors, m.n_tensors) == 0);
	ft_adamw_init(&r, m.n_params);
	CHECK(ft_adamw_load(&r, p, m.tensors, m.n_tensors) == 0);
	CHECK_EQ_INT(r.step, 42);
	for (size_t i = 0; i < m.n_tensors; i++) {
		const ft_param_tensor *t = &m.tensors[i];
		CHECK(memcmp(o.m + t->off, r.m + t->off, t->n * 4) == 0);
		CHECK(memcmp(o.v + t->off, r.v + t->off, t->n * 4) == 0);
	}
	/* a model with another table must be refused */
	CHECK(ft_adamw_load(&r, p, m.tensors, m.n_tensors - 1) == -1);
	ft_adamw_release(&o);
	ft_adamw_release(&r);
	ft_model_release(&m);
	free(p);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_fixture_dirs();
	test_config_keys();
	test_errors();
	test_shards();
	test_optim_state();
	ft_remove_tree(tmpdir);
	return check_done();
}

/* Llama family (llama, mistral, qwen2, qwen3) against the PyTorch
 * reference of the HF math (tests/ref/llama_ref.py, fixtures in
 * tests/fixtures/llama/CASE): loading the model directory (HF names, BF16
 * files converted), the rotary tables after rope_scaling, logits, loss,
 * every gradient and the parameters after AdamW steps on right-padded
 * batches (ref_case.h: 1e-5 logits, 1e-4 grads/params), greedy generation
 * through the KV cache (the reference's token ids, its logits within 1e-5
 * at every step), saving and reloading (weights bit-exact, config keys
 * kept), and the refusals of what the engine does not implement. */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "ref_case.h"

static const char *const cases[] = { "llama_mqa", "llama_gqa", "llama_hd",
	"llama3", "qwen2", "qwen3", "mistral" };
static char tmpdir[] = "/tmp/ft-llama-XXXXXX";

static void
check_rope(ft_model *m, const struct fix *rf, int T)
{
	size_t n = 0;
	const float *rc = fix_get(rf, "rope.cos", &n), *rs;
	int hd = m->cfg.head_dim, half = hd / 2;
	double dc = 0, ds = 0;

	rs = fix_get(rf, "rope.sin", NULL);
	CHECK(rc != NULL && n == (size_t)T * hd);
	CHECK(m->rope_n >= T);
	if (rc == NULL || m->rope_n < T)
		return;
	for (int t = 0; t < T; t++)
		for (int i = 0; i < hd; i++) {
			size_t at = (size_t)t * half + (size_t)(i % half);
			dc = fmax(dc, fabs(m->rope_cos[at] - rc[(size_t)t * hd + i]));
			ds = fmax(ds, fabs(m->rope_sin[at] - rs[(size_t)t * hd + i]));
		}
	printf("  rotary tables max abs err cos %.2g sin %.2g\n", dc, ds);
	CHECK(dc <= 1e-6 && ds <= 1e-6);
}

/* Save, reload: the same weights, the source config's keys kept. */
static void
check_save(const ft_model *m, const char *name, const char *src)
{
	char *dir = ft_path_join(tmpdir, name), *cp;
	ft_model r;
	cJSON *a, *b, *it;
	int kept = 1;

	CHECK(ft_model_save_dir(m, dir) == 0);
	CHECK(ft_model_load(&r, dir) == 0);
	CHECK(r.n_tensors == m->n_tensors && r.untied == m->untied);
	for (size_t i = 0; i < m->n_tensors && i < r.n_tensors; i++)
		CHECK(strcmp(r.tensors[i].name, m->tensors[i].name) == 0 &&
		    memcmp(r.params + r.tensors[i].off, m->params +
		    m->tensors[i].off, m->tensors[i].n * 4) == 0);
	cp = ft_path_join(dir, "config.json");
	a = ft_json_load(src);
	b = ft_json_load(cp);
	CHECK(a != NULL && b != NULL);
	cJSON_ArrayForEach(it, a) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, it->string);
		if (strcmp(it->string, "torch_dtype") == 0)
			CHECK(cJSON_IsString(v) && strcmp(v->valuestring,
			    "float32") == 0);
		else if (v == NULL || !cJSON_Compare(it, v, 1)) {
			printf("  config key %s not kept\n", it->string);
			kept = 0;
		}
	}
	CHECK(kept);
	cJSON_Delete(a);
	cJSON_Delete(b);
	ft_model_release(&r);
	free(cp);
	free(dir);
}

static void
run_case(const char *name, int threads, int skip)
{
	char dir[256], path[300];
	ft_model m;
	struct fix rf;
	int B, T;

	printf("case %s (threads %d%s)\n", name, threads,
	    skip ? ", logits only where targets" : "");
	snprintf(dir, sizeof dir, "tests/fixtures/llama/%s", name);
	CHECK(ft_model_load(&m, dir) == 0);
	snprintf(path, sizeof path, "%s/ref.safetensors", dir);
	CHECK(fix_open(&rf, path) == 0);
	fix_shape(&rf, "ids.0", &B, &T);
	ft_model_set_threads(&m, threads);
	if (!skip)
		check_generation(&m, &rf);
	ref_train(&m, &rf, B, T, threads, skip);
	check_rope(&m, &rf, T);
	if (!skip) {
		snprintf(path, sizeof path, "%s/config.json", dir);
		check_save(&m, name, path);
	}
	ft_model_release(&m);
	fix_close(&rf);
}

static const char *
realpath_or(const char *path)
{
	static char buf[4096];

	return realpath(path, buf) != NULL ? buf : path;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Each refusal names the key and the value. */
static void
test_refusals(void)
{
	static const char *const bad[] = {
		"{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": "
		    "\"yarn\", \"factor\": 4.0}}",
		"{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": "
		    "\"dynamic\", \"factor\": 2.0}}",
		"{\"model_type\": \"llama\", \"hidden_act\": \"gelu\"}",
		"{\"model_type\": \"qwen2\", \"use_sliding_window\": true}",
		"{\"model_type\": \"bert\"}",
		"{\"model_type\": \"llama\", \"num_attention_heads\": 6, "
		    "\"num_key_value_heads\": 4}",
		"{\"model_type\": \"llama\", \"hidden_size\": 30, "
		    "\"num_attention_heads\": 2, \"head_dim\": 15}",
		"{\"model_type\": \"llama\", \"partial_rotary_factor\": 0.5}",
		"{\"model_type\": \"qwen3\", \"layer_types\": "
		    "[\"full_attention\", \"sliding_attention\"]}",
		"{\"model_type\": \"llama\", \"rope_parameters\": "
		    "{\"rope_type\": \"yarn\", \"rope_theta\": 10000.0}}",
	};
	char *cp = ft_path_join(tmpdir, "config.json");
	ft_model_config c;
	ft_model m;
	int32_t ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	fprintf(stderr, "expected errors follow:\n");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(cp, bad[i]);
		CHECK(ft_model_config_load(&c, cp) == -1);
	}
	/* Mistral's window: refused once the context exceeds it */
	write_file(cp, "{\"model_type\": \"mistral\", \"hidden_size\": 16, "
	    "\"intermediate_size\": 24, \"num_hidden_layers\": 1, "
	    "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
	    "\"vocab_size\": 11, \"max_position_embeddings\": 32, "
	    "\"sliding_window\": 4}");
	CHECK(ft_model_config_load(&c, cp) == 0);
	CHECK_EQ_INT(c.sliding_window, 4);
	CHECK(ft_model_new(&m, &c, 1) == 0);
	CHECK(!isnan(ft_model_forward(&m, ids, NULL, ids, 1, 4)) ||
	    m.n_targets == 0);
	CHECK(m.n_targets >= 0);
	ft_model_forward(&m, ids, NULL, NULL, 1, 5);
	CHECK(m.n_targets == -1);
	CHECK(ft_kv_new(&m, 1, 8) == NULL);
	ft_model_release(&m);
	/* what is accepted: a list of eos ids (its first), linear scaling */
	write_file(cp, "{\"model_type\": \"llama\", \"eos_token_id\": [7, 9], "
	    "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.0}}");
	CHECK(ft_model_config_load(&c, cp) == 0);
	CHECK_EQ_INT(c.eos_token_id, 7);
	CHECK_EQ_INT(c.rope_type, FT_ROPE_LINEAR);
	/* transformers 5: rope_theta inside rope_parameters */
	write_file(cp, "{\"model_type\": \"llama\", \"rope_parameters\": "
	    "{\"rope_type\": \"default\", \"rope_theta\": 500000.0}}");
	CHECK(ft_model_config_load(&c, cp) == 0);
	CHECK(c.rope_theta == 500000.0 && c.rope_type == FT_ROPE_DEFAULT);
	fprintf(stderr, "end of expected errors\n");
	free(cp);
}

/* A file whose tensors do not fit the config: named, nothing loaded. */
static void
test_mismatch(void)
{
	char *d = ft_path_join(tmpdir, "mismatch"), *p;
	ft_model m;

	CHECK(ft_mkdir_p(d, 0777) == 0);
	p = ft_path_join(d, "model.safetensors");
	unlink(p);
	CHECK(symlink(realpath_or("tests/fixtures/llama/qwen2/model.safetensors"),
	    p) == 0);
	free(p);
	p = ft_path_join(d, "config.json");
	fprintf(stderr, "expected errors follow:\n");
	/* qwen2's q/k/v biases under a llama config without attention_bias */
	write_file(p, "{\"model_type\": \"llama\", \"hidden_size\": 36, "
	    "\"intermediate_size\": 50, \"num_hidden_layers\": 2, "
	    "\"num_attention_heads\": 6, \"num_key_value_heads\": 2, "
	    "\"vocab_size\": 73, \"tie_word_embeddings\": true}");
	CHECK(ft_model_load(&m, d) == -1);
	/* ... and with attention_bias the o_proj bias is missing */
	write_file(p, "{\"model_type\": \"llama\", \"hidden_size\": 36, "
	    "\"intermediate_size\": 50, \"num_hidden_layers\": 2, "
	    "\"num_attention_heads\": 6, \"num_key_value_heads\": 2, "
	    "\"vocab_size\": 73, \"tie_word_embeddings\": true, "
	    "\"attention_bias\": true}");
	CHECK(ft_model_load(&m, d) == -1);
	/* wrong number of KV heads: k_proj's shape */
	write_file(p, "{\"model_type\": \"qwen2\", \"hidden_size\": 36, "
	    "\"intermediate_size\": 50, \"num_hidden_layers\": 2, "
	    "\"num_attention_heads\": 6, \"num_key_value_heads\": 3, "
	    "\"vocab_size\": 73, \"tie_word_embeddings\": true}");
	CHECK(ft_model_load(&m, d) == -1);
	/* the right config loads */
	write_file(p, "{\"model_type\": \"qwen2\", \"hidden_size\": 36, "
	    "\"intermediate_size\": 50, \"num_hidden_layers\": 2, "
	    "\"num_attention_heads\": 6, \"num_key_value_heads\": 2, "
	    "\"vocab_size\": 73, \"tie_word_embeddings\": true}");
	CHECK(ft_model_load(&m, d) == 0);
	fprintf(stderr, "end of expected errors\n");
	ft_model_release(&m);
	free(p);
	free(d);
}

/* Weight decay on every >= 2-D tensor, none on biases and norm weights. */
static void
test_decay_groups(void)
{
	ft_model m;

	CHECK(ft_model_load(&m, "tests/fixtures/llama/llama_hd") == 0);
	for (size_t i = 0; i < m.n_tensors; i++) {
		const ft_param_tensor *t = &m.tensors[i];
		CHECK(t->decay == (t->ndim >= 2));
		CHECK(t->decay == (strstr(t->name, "norm") == NULL &&
		    strstr(t->name, ".bias") == NULL));
	}
	ft_model_release(&m);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		run_case(cases[i], 1 + (int)(i % 2), 0);
	run_case("llama_gqa", 1, 1);
	run_case("mistral", 2, 1);
	test_refusals();
	test_mismatch();
	test_decay_groups();
	ft_remove_tree(tmpdir);
	return check_done();
}

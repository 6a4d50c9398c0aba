/* libFuzzer target: arbitrary bytes read as a model's config.json
 * (ft_model_config_load: model_type -> architecture, every key's checks
 * and refusals).  An accepted config small enough to allocate becomes a
 * model whose written config.json (ft_model_config_save) must read back
 * to the same choices and sizes.  Errors are expected; crashes, leaks and
 * a config that does not round-trip are not. */
#include "model/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
write_all(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(data, 1, size, f) == size;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[64], out[64];
	ft_model_config c, r;
	ft_model m;
	double params;

	if (in[0] == '\0') {
		FILE *null = fopen("/dev/null", "w");
		if (null != NULL)
			stderr = null; /* the library's messages; fd 2 stays */
		snprintf(in, sizeof in, "/tmp/fuzz-config-%d.json", (int)getpid());
		snprintf(out, sizeof out, "/tmp/fuzz-config-%d-out.json",
		    (int)getpid());
	}
	if (write_all(in, data, size) < 0 || ft_model_config_load(&c, in) < 0)
		return 0;
	params = (double)c.vocab_size * c.n_embd + (double)c.n_layer *
	    ((double)c.n_embd * (c.n_head + 2 * c.n_kv_head) * c.head_dim +
	    3.0 * c.n_embd * c.n_inner) + (double)c.n_positions * c.n_embd;
	if (params > 2e6 || ft_model_new(&m, &c, !c.tie_word_embeddings) < 0)
		return 0;
	if (ft_model_config_save(&m, out) < 0 || ft_model_config_load(&r, out) < 0)
		__builtin_trap();
	if (r.arch != m.cfg.arch || r.n_layer != m.cfg.n_layer ||
	    r.n_embd != m.cfg.n_embd || r.n_head != m.cfg.n_head ||
	    r.n_kv_head != m.cfg.n_kv_head || r.head_dim != m.cfg.head_dim ||
	    r.n_inner != m.cfg.n_inner || r.vocab_size != m.cfg.vocab_size ||
	    r.n_positions != m.cfg.n_positions || r.norm != m.cfg.norm ||
	    r.mlp != m.cfg.mlp || r.pos != m.cfg.pos ||
	    r.qkv_bias != m.cfg.qkv_bias || r.o_bias != m.cfg.o_bias ||
	    r.mlp_bias != m.cfg.mlp_bias || r.qk_norm != m.cfg.qk_norm ||
	    r.tie_word_embeddings != m.cfg.tie_word_embeddings ||
	    r.norm_eps != m.cfg.norm_eps || r.rope_theta != m.cfg.rope_theta ||
	    r.rope_type != m.cfg.rope_type ||
	    r.rope_factor != m.cfg.rope_factor || r.rope_low != m.cfg.rope_low ||
	    r.rope_high != m.cfg.rope_high || r.rope_orig != m.cfg.rope_orig ||
	    r.sliding_window != m.cfg.sliding_window ||
	    r.pad_token_id != m.cfg.pad_token_id ||
	    r.bos_token_id != m.cfg.bos_token_id ||
	    r.eos_token_id != m.cfg.eos_token_id ||
	    r.attn_pdrop != m.cfg.attn_pdrop)
		__builtin_trap();
	ft_model_release(&m);
	return 0;
}

#!/usr/bin/python3
"""Reference kept sets for lib/sampler (tests/unit/test_sampler.c).

Run with Debian's /usr/bin/python3 (torch 1.13, no transformers needed):
    /usr/bin/python3 tests/ref/sampler_ref.py > tests/fixtures/sample/sampler.txt
    /usr/bin/python3 tests/ref/sampler_ref.py processors \
        > tests/fixtures/sample/processors.txt

The three warpers below are transformers' TemperatureLogitsWarper,
TopKLogitsWarper and TopPLogitsWarper (v4.x, filter_value=-inf), written
out in torch line for line, and build() adds them under the conditions of
GenerationMixin._get_logits_warper: temperature != 1, top_k != 0,
top_p < 1, in that order, min_tokens_to_keep 1 for num_beams 1.

Ties: transformers sorts with torch.sort(descending=False), which on CPU is
not stable.  lib/sampler sorts stably, so the fixture is computed with
stable=True; the line also records whether the default (unstable) sort
gives a different kept set ("tie" flag), which happens only when equal
logits straddle the top-p cut.

Output, one case per block:
    case NAME V TEMPERATURE TOP_K TOP_P MIN_KEEP TIE
    logits x0 x1 ... (float32, %.9g)
    kept N i0 i1 ... (ascending)
    values v(i0) v(i1) ... (the warped float32 logits of the kept tokens)
"""
import math
import sys

import torch


class Temperature:
    def __init__(self, temperature):
        self.temperature = temperature

    def __call__(self, scores):
        return scores / self.temperature


class TopK:
    def __init__(self, top_k, filter_value=-float("inf"), min_tokens_to_keep=1):
        self.top_k = max(top_k, min_tokens_to_keep)
        self.filter_value = filter_value

    def __call__(self, scores):
        top_k = min(self.top_k, scores.size(-1))  # safety check
        indices_to_remove = scores < torch.topk(scores, top_k)[0][..., -1, None]
        return scores.masked_fill(indices_to_remove, self.filter_value)


class TopP:
    def __init__(self, top_p, filter_value=-float("inf"), min_tokens_to_keep=1,
                 stable=True):
        self.top_p = float(top_p)
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep
        self.stable = stable

    def __call__(self, scores):
        if self.stable:
            sorted_logits, sorted_indices = torch.sort(scores, descending=False,
                                                       stable=True)
        else:
            sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_indices_to_remove = cumulative_probs <= (1 - self.top_p)
        sorted_indices_to_remove[..., -self.min_tokens_to_keep:] = 0
        indices_to_remove = sorted_indices_to_remove.scatter(
            1, sorted_indices, sorted_indices_to_remove)
        return scores.masked_fill(indices_to_remove, self.filter_value)


# The processors that look at the sequence (transformers v4.x
# logits_process.py, line for line in torch), added by
# GenerationMixin._get_logits_processor in this order: repetition_penalty
# != 1, no_repeat_ngram_size > 0, min_new_tokens > 0 (with an eos id).
class RepetitionPenalty:
    def __init__(self, penalty):
        self.penalty = penalty

    def __call__(self, input_ids, scores):
        score = torch.gather(scores, 1, input_ids)
        score = torch.where(score < 0, score * self.penalty, score / self.penalty)
        return scores.scatter(1, input_ids, score)


def _get_ngrams(ngram_size, prev_input_ids, num_hypos):
    generated_ngrams = [{} for _ in range(num_hypos)]
    for idx in range(num_hypos):
        gen_tokens = prev_input_ids[idx].tolist()
        generated_ngram = generated_ngrams[idx]
        for ngram in zip(*[gen_tokens[i:] for i in range(ngram_size)]):
            prev_ngram_tuple = tuple(ngram[:-1])
            generated_ngram[prev_ngram_tuple] = \
                generated_ngram.get(prev_ngram_tuple, []) + [ngram[-1]]
    return generated_ngrams


def _get_generated_ngrams(banned_ngrams, prev_input_ids, ngram_size, cur_len):
    start_idx = cur_len + 1 - ngram_size
    ngram_idx = tuple(prev_input_ids[start_idx:cur_len].tolist())
    return banned_ngrams.get(ngram_idx, [])


def _calc_banned_ngram_tokens(ngram_size, prev_input_ids, num_hypos, cur_len):
    if cur_len + 1 < ngram_size:
        return [[] for _ in range(num_hypos)]
    generated_ngrams = _get_ngrams(ngram_size, prev_input_ids, num_hypos)
    return [_get_generated_ngrams(generated_ngrams[h], prev_input_ids[h],
                                  ngram_size, cur_len)
            for h in range(num_hypos)]


class NoRepeatNGram:
    def __init__(self, ngram_size):
        self.ngram_size = ngram_size

    def __call__(self, input_ids, scores):
        num_batch_hypotheses = scores.shape[0]
        cur_len = input_ids.shape[-1]
        scores_processed = scores.clone()
        banned = _calc_banned_ngram_tokens(self.ngram_size, input_ids,
                                           num_batch_hypotheses, cur_len)
        for i, banned_tokens in enumerate(banned):
            scores_processed[i, banned_tokens] = -float("inf")
        return scores_processed


class MinNewTokens:
    def __init__(self, prompt_length_to_skip, min_new_tokens, eos_token_id):
        self.prompt_length_to_skip = prompt_length_to_skip
        self.min_new_tokens = min_new_tokens
        self.eos_token_id = torch.tensor(eos_token_id)

    def __call__(self, input_ids, scores):
        new_tokens_length = input_ids.shape[-1] - self.prompt_length_to_skip
        scores_processed = scores.clone()
        vocab_tensor = torch.arange(scores.shape[-1])
        eos_token_mask = torch.isin(vocab_tensor, self.eos_token_id)
        if new_tokens_length < self.min_new_tokens:
            scores_processed = torch.where(eos_token_mask, -math.inf, scores)
        return scores_processed


def processors(penalty, ngram, min_new, prompt_len, eos):
    p = []
    if penalty != 1.0:
        p.append(RepetitionPenalty(penalty))
    if ngram > 0:
        p.append(NoRepeatNGram(ngram))
    if min_new > 0 and eos:
        p.append(MinNewTokens(prompt_len, min_new, eos))
    return p


def emit_proc(name, logits, ids, penalty, ngram, min_new, prompt_len, eos):
    logits = logits.to(torch.float32)
    s = logits.clone().view(1, -1)
    inp = torch.tensor(ids, dtype=torch.long).view(1, -1)
    for f in processors(penalty, ngram, min_new, prompt_len, eos):
        s = f(inp, s)
    s = s.view(-1)
    print("proc %s %d %s %d %d %d" % (name, logits.numel(), repr(penalty),
                                       ngram, min_new, prompt_len))
    print("ids %d " % len(ids) + " ".join(str(i) for i in ids))
    print("eos %d " % len(eos) + " ".join(str(i) for i in eos))
    print("logits " + " ".join(g(v) for v in logits.tolist()))
    print("out " + " ".join(g(v) for v in s.tolist()))


def main_processors():
    gen = torch.Generator().manual_seed(4321)
    n = 0
    for V, lens in ((5, (1, 2, 5, 17)), (40, (1, 3, 17, 60)), (120, (60,))):
        for L in lens:
            ids = torch.randint(0, min(V, 12), (L,), generator=gen).tolist()
            x = torch.randn(V, generator=gen) * 3
            for penalty in (1.2, 1.3, 0.7, 1e-3):
                emit_proc("rp%d" % n, x, ids, penalty, 0, 0, 0, [])
                n += 1
            for ngram in (1, 2, 3, 7):
                emit_proc("ng%d" % n, x, ids, 1.0, ngram, 0, 0, [])
                n += 1
            for mn, pl in ((1, L), (3, max(L - 2, 0)), (2, 0)):
                emit_proc("mn%d" % n, x, ids, 1.0, 0, mn, pl, [V - 1, 0])
                n += 1
            emit_proc("all%d" % n, x, ids, 1.3, 2, 4, max(L - 1, 0), [1])
            n += 1
    # repeated patterns: the n-gram ban fires
    ids = [3, 4, 5, 3, 4, 5, 3, 4]
    x = torch.randn(10, generator=gen)
    for ngram in (1, 2, 3, 4, 8, 9):
        emit_proc("rep-ng%d" % ngram, x, ids, 1.0, ngram, 0, 0, [])
    emit_proc("rep-all", x, ids, 1.5, 3, 9, 8, [5, 9])
    # zeros, -inf and exact values under the penalty
    x = torch.tensor([0.0, -0.0, 1.0, -1.0, -math.inf, 3.5, -2.25, 1e-30])
    emit_proc("edge", x, [0, 1, 2, 3, 4, 5, 6, 7, 7, 7], 1.7, 0, 0, 0, [])
    # ids outside the vocabulary are ignored by ft (torch would fail)


def build(temperature, top_k, top_p, min_keep, stable):
    w = []
    if temperature is not None and temperature != 1.0:
        w.append(Temperature(temperature))
    if top_k is not None and top_k != 0:
        w.append(TopK(top_k, min_tokens_to_keep=min_keep))
    if top_p is not None and top_p < 1.0:
        w.append(TopP(top_p, min_tokens_to_keep=min_keep, stable=stable))
    return w


def run(logits, temperature, top_k, top_p, min_keep, stable):
    s = logits.clone().view(1, -1)
    for f in build(temperature, top_k, top_p, min_keep, stable):
        s = f(s)
    return s.view(-1)


def g(x):
    return "%.9g" % x


def emit(name, logits, temperature, top_k, top_p, min_keep=1):
    logits = logits.to(torch.float32)
    out = run(logits, temperature, top_k, top_p, min_keep, True)
    alt = run(logits, temperature, top_k, top_p, min_keep, False)
    kept = torch.nonzero(out > -math.inf).view(-1).tolist()
    alt_kept = torch.nonzero(alt > -math.inf).view(-1).tolist()
    tie = int(kept != alt_kept)
    print("case %s %d %s %d %s %d %d" % (name, logits.numel(), g(temperature),
                                         top_k, g(top_p), min_keep, tie))
    print("logits " + " ".join(g(v) for v in logits.tolist()))
    print("kept %d " % len(kept) + " ".join(str(i) for i in kept))
    print("values " + " ".join(g(out[i].item()) for i in kept))


def main():
    gen = torch.Generator().manual_seed(1234)
    # docs/hf-reference.md §14 example: 4 tokens remain (top-p only).
    ex = torch.tensor([2, 1, 0.5, 0, -1, 3])
    emit("s14", ex, 1.0, 0, 0.92)
    emit("s14-notebook", ex, 0.9, 50, 0.92)
    # The notebook's settings on random vectors of several sizes/scales.
    n = 0
    for V in (7, 50, 51, 64, 100, 257, 1000):
        for scale in (0.5, 2.0, 8.0):
            x = torch.randn(V, generator=gen) * scale
            emit("rand%d" % n, x, 0.9, 50, 0.92)
            n += 1
    # Ties: small integer logits, many equal values at both cuts.
    for V in (20, 60, 100, 400):
        for p in (0.3, 0.5, 0.92):
            x = torch.randint(-3, 4, (V,), generator=gen).float()
            emit("tie%d" % n, x, 1.0, 50, p)
            emit("tie%d-k" % n, x, 0.9, 10, p)
            n += 1
    # A block of exactly equal maxima.
    emit("flat", torch.zeros(100), 0.9, 50, 0.92)
    emit("flat-k3", torch.zeros(100), 1.0, 3, 1.0)
    # Extreme temperatures.
    for t in (0.01, 0.05, 0.3, 1.0, 2.0, 10.0, 100.0, 1000.0):
        x = torch.randn(500, generator=gen) * 3
        emit("temp%g" % t, x, t, 50, 0.92)
    # top_k > V, top_k off, top_p = 1.0 (no top-p warper), tiny top_p.
    x = torch.randn(30, generator=gen) * 2
    emit("k-over-v", x, 0.9, 50, 0.92)
    emit("k-over-v-only", x, 1.0, 1000, 1.0)
    x = torch.randn(600, generator=gen) * 2
    emit("k-off", x, 0.9, 0, 0.92)
    emit("p-one", x, 0.9, 50, 1.0)
    emit("p-one-k-off", x, 0.7, 0, 1.0)
    emit("p-tiny", x, 0.9, 50, 0.01)
    emit("k1", x, 0.9, 1, 0.92)
    emit("p-0.5", x, 1.3, 0, 0.5)
    # min_tokens_to_keep > 1 (as with beams): top-k raised, top-p floor.
    emit("minkeep3", x, 0.9, 2, 0.01, 3)
    emit("minkeep5", x, 1.0, 0, 0.001, 5)
    # Very peaked and very flat distributions.
    x = torch.randn(300, generator=gen)
    x[17] = 40.0
    emit("peak", x, 0.9, 50, 0.92)
    emit("near-flat", torch.randn(300, generator=gen) * 1e-3, 0.9, 50, 0.92)
    # Large-magnitude logits, some -inf already present.
    x = torch.randn(200, generator=gen) * 30
    x[::7] = -math.inf
    emit("neg-inf", x, 0.9, 50, 0.92)
    emit("neg-inf-p", x, 1.0, 0, 0.6)


if __name__ == "__main__":
    sys.stdout.reconfigure(newline="\n")
    if sys.argv[1:] == ["processors"]:
        main_processors()
    else:
        main()

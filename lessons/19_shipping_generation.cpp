// %% [markdown]
// # 19 · Shipping: generating one token at a time, and what inference costs
//
// Training reads a whole sequence at once: n queries, n keys, one big (masked) matrix product. Generation cannot:
// token t + 1 does not exist until token t has been produced. Each new token brings ONE query, and it must be
// compared with every key that came before — so what a model keeps between tokens, its **state**, decides what
// inference costs. This is where the efficient schemes differ most, and the question users of the reference
// implementations keep asking: "is there a KV cache?", "when is efficient attention actually faster?".
//
// - Step 1: one token at a time gives exactly the causal attention of the whole sequence.
// - Step 2: what each scheme keeps after t tokens, drawn: the KV cache, Longformer's ring buffer, linear attention's
//   d × d state.
// - Step 3: the cost of one token vs the context length t, measured live: cached and recomputed.
// - Step 4: a trained model writes text, with and without the cache: the same text, not the same time.
// - Step 5: the crossover — from which context each scheme's decoding beats exact attention with a KV cache.
// - Step 6: your prediction (EXERCISE): whose state stays the same size as t grows?
//
// Legend: B = batch, H = heads, d = head size, t = tokens already generated (the context), n = the whole sequence.
// %%
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "attention/decode_bench.h"
#include "lessons/byte_lm.h"
#include "lessons/lesson.h"
#include "corpora/corpus.h"
#include "lm/generate.h"
#include "lm/train.h"

using core::Tensor;

// Step 6's exercise: a scheme, and your prediction of whether its decoder's state after 4·t tokens is the same
// size as after t. Your version is the EXERCISE block in main; the reference solution and a known-wrong answer
// are in lessons/solutions/19_shipping_generation.h.
struct MyPrediction {
  std::string scheme = "full";
  bool state_stays_the_same = false;  // will the state after 1024 tokens be as large as after 256, no larger?
};
#include "lessons/solutions/19_shipping_generation.h"

namespace {

// The decoder of `scheme` (its LM preset, causal) after the first t tokens of q, k, v (B, H, >= t, d).
std::unique_ptr<attention::Decoder> decoder_after(const std::string& scheme, const Tensor& q, const Tensor& k,
                                                  const Tensor& v, int64_t t, int64_t n) {
  const attention::Scheme& s = attention::find_scheme(scheme);
  auto dec = attention::make_decoder(s, s.configure(s.info().lm_settings, true), n);
  dec->prefill(core::slice(q, 2, 0, t), core::slice(k, 2, 0, t), core::slice(v, 2, 0, t));
  return dec;
}

}  // namespace

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "19_shipping_generation");
  const bool quick = L.quick();

  // %% [markdown]
  // ## Step 1 · one token at a time is the causal attention of the whole sequence
  // A causal layer's output at position t depends only on tokens 0..t. So a decoder that is handed token t's
  // q, k, v — and remembers what it needs of the tokens before — can produce row t of the causal attention
  // without ever seeing the future. For exact attention, what it needs is every key and value so far: the **KV
  // cache**. Feeding a sequence through it token by token must give the causal kernel's output, row by row; the
  // test suite checks that for every causal scheme (tests/test_decode.cpp), and `attnzoo run SCHEME --causal
  // --decode` does it on your own tensors.
  // %%
  L.step("Step 1 · one token at a time == the causal kernel");
  const int64_t B = 1, H = 2, n = 48, d = 16;
  core::Rng rng(L.seed());
  const Tensor q = core::randn({B, H, n, d}, rng), k = core::randn({B, H, n, d}, rng), v = core::randn({B, H, n, d}, rng);
  for (const char* name : {"full", "longformer", "linear", "reformer"}) {
    const attention::Scheme& s = attention::find_scheme(name);
    const attention::Config cfg = s.configure({}, /*causal=*/true);
    const Tensor whole = s.kernel(q, k, v, cfg);  // (B, H, n, d), all rows at once
    auto dec = attention::make_decoder(s, cfg, n);
    const Tensor one_by_one = attention::decode_all(*dec, q, k, v);  // row t from tokens 0..t only
    L.check_close(std::string(name) + ": token by token equals the whole causal kernel", one_by_one, whole, 1e-4f);
    L.say("  ", name, " keeps: ", dec->state());
  }

  // %% [markdown]
  // ## Step 2 · what each scheme keeps after t tokens
  // Three states, drawn for one head after t tokens:
  // - **full / flash: the KV cache** — a (t × d) matrix of keys (and one of values) that grows by a row per token;
  //   2·t·d floats per head.
  // - **Longformer: a ring buffer** — the window needs only the last w + 1 keys, so token t is written into slot
  //   t mod (w + 1) over the oldest one: the buffer never grows.
  // - **Linear Transformer: S = Σ φ(k) vᵀ** (d × d) and z = Σ φ(k) — "Transformers are RNNs": every token is
  //   added into a fixed-size matrix and forgotten; a step costs O(d²) whatever t.
  // BigBird and the Sparse Transformer keep every key too (a later query's random blocks, or its stride, may reach
  // any of them) but read only their pattern's keys. The fallback schemes (Reformer, Routing, Sinkhorn, ETC,
  // Synthesizer here) keep q, k, v of every token and recompute: their patterns depend on all the keys (hash
  // buckets, clusters, sorted blocks) or on relative positions.
  // %%
  L.step("Step 2 · the state after t tokens, drawn");
  const int64_t t_small = 16, t_large = 40, n_state = 64;
  const Tensor qs = core::randn({1, 1, n_state, d}, rng), ks = core::randn({1, 1, n_state, d}, rng),
               vs = core::randn({1, 1, n_state, d}, rng);
  // The KV cache after t tokens is the first t rows of k: draw it as the (t × d) matrix it is.
  const Tensor cache = core::slice(core::slice(ks, 2, 0, t_large), 0, 0, 1);
  L.show(lesson::matrix_map(cache, "KV cache: the keys after t = " + std::to_string(t_large) + " tokens",
                            "one row per token so far: it grows by a row with every token",
                            lesson::MapStyle().xlabel("head dimension c").ylabel("token j").value("key value k_j[c]")
                                .diverging()),
         "kv_cache.png", "full attention's KV cache (keys) after 40 tokens: one row per token, growing with t");
  // The ring: slot j holds the token with index ≡ j (mod R) — draw which token each slot holds as t goes on.
  const int64_t w = 6, R = w + 1;
  Tensor ring = Tensor::zeros({t_large, R});  // row t: the token index in each slot after token t, 0 if empty
  for (int64_t t = 0; t < t_large; ++t)
    for (int64_t j = 0; j < R; ++j) {
      const int64_t last = t - ((t - j) % R + R) % R;  // the latest token <= t in slot j
      ring.data()[t * R + j] = last >= 0 ? static_cast<float>(last + 1) : 0.0f;
    }
  L.show(lesson::matrix_map(ring, "Longformer's ring buffer (window w = 6): which token each slot holds",
                            "token t goes into slot t mod 7 over the oldest: never more than 7 held",
                            lesson::MapStyle().xlabel("ring slot (t mod 7)").ylabel("after token t")
                                .value("token held + 1 (0 = empty)")),
         "ring_buffer.png", "the ring buffer: slot t mod (w+1) takes token t over the oldest; its size never changes");
  // Linear attention's state: S = Σ φ(k) vᵀ after t tokens, φ = elu + 1.
  auto linear_S = [&](int64_t t) {
    const Tensor phi = core::add(core::elu(core::slice(ks, 2, 0, t)), 1.0f);  // (1, 1, t, d)
    return core::matmul(core::transpose(phi, 2, 3), core::slice(vs, 2, 0, t));  // (1, 1, d, d)
  };
  L.show(lesson::matrix_map(linear_S(t_large), "linear attention's state S = Σ φ(k) vᵀ after 40 tokens",
                            "d × d whatever t: each token is added in, then forgotten",
                            lesson::MapStyle().xlabel("value dimension c").ylabel("feature dimension f")
                                .value("S[f, c]").diverging()),
         "linear_state.png", "linear attention's d × d state after 40 tokens: the same size after 4 or 4 million");
  auto floats = [&](const std::string& scheme, int64_t t) {
    return decoder_after(scheme, qs, ks, vs, t, n_state)->state_floats();
  };
  lesson::Table st({"scheme", "state after " + std::to_string(t_small), "after " + std::to_string(t_large), "grows?"},
                   12);
  for (const char* name : {"full", "flash", "sparse", "bigbird", "longformer", "linear", "performer", "reformer"}) {
    const int64_t a = floats(name, t_small), b = floats(name, t_large);
    st.row({name, std::to_string(a) + " floats", std::to_string(b) + " floats", b > a ? "yes" : "no"});
  }
  L.check("the KV cache holds 2·t·d floats per head: 2·40·16 = 1280 after 40 tokens", floats("full", t_large) == 1280,
          std::to_string(floats("full", t_large)));
  L.check("linear attention's state is the same size after 16 and 40 tokens (S: d·d, z: d)",
          floats("linear", t_small) == floats("linear", t_large) && floats("linear", t_large) == d * d + d);
  L.check("Longformer's ring does not grow either", floats("longformer", t_small) == floats("longformer", t_large));
  // The picture is the state: the linear decoder's next output is φ(q)ᵀS / φ(q)ᵀz with S, z summed directly.
  auto dec_lin = decoder_after("linear", qs, ks, vs, t_large, n_state);
  const Tensor q_t = core::slice(qs, 2, t_large, t_large + 1), k_t = core::slice(ks, 2, t_large, t_large + 1),
               v_t = core::slice(vs, 2, t_large, t_large + 1);              // (1, 1, 1, d): token t = 40
  const Tensor out_t = dec_lin->step(q_t, k_t, v_t);
  const Tensor S = linear_S(t_large + 1);                                     // (1, 1, d, d), tokens 0..40
  const Tensor z = core::sum(core::add(core::elu(core::slice(ks, 2, 0, t_large + 1)), 1.0f), 2);  // (1, 1, d)
  const Tensor phi_q = core::add(core::elu(q_t), 1.0f);                                          // (1, 1, 1, d)
  const Tensor den = core::sum(core::mul(core::reshape(phi_q, {1, 1, d}), z), -1, true);          // (1, 1, 1)
  L.check_close("the drawn S is what the linear decoder holds: its output at t is φ(q)ᵀS / φ(q)ᵀz", out_t,
                core::div(core::matmul(phi_q, S), core::reshape(den, {1, 1, 1, 1})), 1e-4f);

  // %% [markdown]
  // ## Step 3 · the cost of one token vs the context length
  // `attnzoo bench --decode` (part of `make bench`) measures, for every causal scheme, the time of one decoding step
  // after a prefill of t tokens and the memory of the state — and, as the comparison, recomputing the causal kernel
  // over all t + 1 tokens, which is what a generate() without a cache does. Here a few schemes at small t, live.
  // Watch three things: the KV cache's step grows like t (it reads every key), the ring and the recurrent state do
  // not grow at all, and recomputing grows like t² for exact attention — the cache wins by a factor that itself
  // grows with t.
  // %%
  L.step("Step 3 · time per token and state vs t, measured live");
  attention::DecodeBenchOptions bo;
  bo.schemes = {"full", "flash", "longformer", "linear", "performer", "reformer"};
  bo.ts = quick ? std::vector<int64_t>{128, 256, 512} : std::vector<int64_t>{256, 512, 1024, 2048, 4096};
  bo.long_ts = quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{16384};
  bo.heads = 4;
  bo.d_head = 32;
  bo.steps = 4;
  bo.max_seconds_per_point = 5;
  bo.seed = L.seed();
  bo.progress = [&](const std::string& line) { L.say("  ", line); };
  const std::vector<attention::DecodePoint> points = attention::run_decode_benchmark(bo);
  L.show(attention::decode_cost_figure(points, bo), "decode_cost.png",
         "time per token (cached, recomputed) and the cached state vs context t, log-log: flat lines are the states "
         "that do not grow", lesson::Figure::timing);
  auto point = [&](const std::string& scheme, const std::string& mode, int64_t t) -> const attention::DecodePoint* {
    for (const auto& p : points)
      if (p.scheme == scheme && p.mode == mode && p.t == t && p.skipped.empty()) return &p;
    return nullptr;
  };
  const int64_t t_lo = bo.ts.front(), t_hi = bo.ts.back();
  const auto* kv_lo = point("full", "cached", t_lo);
  const auto* kv_hi = point("full", "cached", t_hi);
  const auto* lin_lo = point("linear", "cached", t_lo);
  const auto* lin_long = point("linear", "cached", bo.long_ts.front());
  const auto* re_hi = point("full", "recomputed", t_hi);
  if (kv_lo && kv_hi && lin_lo && lin_long && re_hi) {
    L.check("the KV cache's state grows in proportion to t (exact: memory is counted, not timed)",
            std::fabs(kv_hi->mib / kv_lo->mib - static_cast<double>(t_hi) / t_lo) < 1e-9,
            lesson::fixed(kv_lo->mib, 3) + " MiB -> " + lesson::fixed(kv_hi->mib, 3) + " MiB");
    L.check("linear attention's state is the same at t = " + std::to_string(t_lo) + " and " +
                std::to_string(bo.long_ts.front()), lin_lo->mib == lin_long->mib,
            lesson::fixed(lin_lo->mib, 3) + " MiB");
    L.say("at t = ", t_hi, ": cached ", lesson::fixed(kv_hi->ms_per_token, 3), " ms per token, recomputed ",
          lesson::fixed(re_hi->ms_per_token, 3), " ms (", lesson::fixed(re_hi->ms_per_token / kv_hi->ms_per_token, 0),
          "× on this machine)");
    L.check("at the longest t, the KV cache makes a token cheaper than recomputing (by far more than 2×; measured)",
            re_hi->ms_per_token > 2 * kv_hi->ms_per_token,
            lesson::fixed(re_hi->ms_per_token / kv_hi->ms_per_token, 1) + "×");
  } else {
    L.check("every point of the live measurement was measured", false);
  }

  // %% [markdown]
  // ## Step 4 · a trained model writes text, with and without the cache
  // A small causal byte LM trained live on the King James Bible (as in lesson 17, shorter) generates bytes after a
  // prompt. `lm::generate` (lm/generate.h) feeds each new byte through the model once — every block's attention
  // with its own state — or, with the cache off, runs the whole model over the window again for every byte. Same
  // seed, same sampler: the two texts must be identical; only the time differs. From the command line:
  //   build/attnzoo generate --model DIR --prompt "And God said" --tokens 200 [--no-cache]
  // %%
  L.step("Step 4 · generating text, cached and recomputed");
  const corpora::Corpus corpus = corpora::load_corpus("kjv");  // one line saying what to install when it is missing
  corpora::TextSplits split = corpora::split(corpus.text);
  split.train = split.train.substr(split.train.size() - (1 << 20));
  split.valid = split.valid.substr(0, 1 << 15);
  split.test = split.test.substr(0, 1 << 15);
  // --quick trains only briefly: the text is gibberish, but cached and recomputed must still agree byte for byte.
  lm::TrainOptions run = lesson::small_byte_lm(quick ? 64 : 128, quick ? 20 : 300, quick ? 8 : 16, L.seed());
  if (quick) run.eval_bytes = 1 << 13;
  run.out_dir = L.dir() + "/model";
  run.label = "flash n=" + std::to_string(run.lm.context);
  const lm::TrainResult trained = lm::train(split, corpus, run);
  L.say("trained: test ", lesson::fixed(trained.test_bpc, 3), " bits per byte after ", trained.steps, " steps");
  const std::unique_ptr<lm::ByteLM> model = lm::load_model(run.out_dir);
  model->eval();
  lm::GenerateOptions go;
  go.tokens = quick ? 64 : 300;
  go.temperature = 0.8f;
  go.seed = L.seed();
  lm::GenerateStats cached_stats, plain_stats;
  const std::string prompt = "And God said, ";
  const std::string with_cache = lm::generate(*model, prompt, go, nullptr, &cached_stats);
  go.cache = false;
  const std::string without = lm::generate(*model, prompt, go, nullptr, &plain_stats);
  L.say("\"", lesson::one_line(prompt + with_cache), "\"");
  L.check("the cached and the recomputed model write the same text (same seed)", with_cache == without,
          std::to_string(with_cache.size()) + " bytes");
  L.say("cached: ", lesson::fixed(cached_stats.seconds, 3), " s; recomputed: ", lesson::fixed(plain_stats.seconds, 3),
        " s (", lesson::fixed(plain_stats.seconds / std::max(cached_stats.seconds, 1e-9), 1),
        "× on this machine, with a window of ", run.lm.context, " bytes; ", cached_stats.windows, " windows)");
  L.say("the cache held at most ", cached_stats.peak_state_floats, " floats: ", cached_stats.state);
  L.check("the cache held 2 (K, V) · layers · t · d_model floats at its largest: 2·2·" +
              std::to_string(run.lm.context) + "·64",
          cached_stats.peak_state_floats == 2 * 2 * run.lm.context * 64);

  // %% [markdown]
  // ## Step 5 · the crossover
  // When is an efficient scheme faster at inference than exact attention *with* a KV cache — the fair comparison,
  // since every exact-attention server has one? `make bench` measures it up to 16K tokens (64K for the constant
  // states) and writes the crossover table into OUT/bench/decode.md (out/ by default; this lesson reads it under its
  // own --out root, OUT/19_shipping_generation/'s parent); this step prints it when it exists, else the
  // live measurement above. Read it with Step 2 in mind: a scheme that recomputes (the fallback) never wins.
  // %%
  L.step("Step 5 · from which context each scheme's decoding beats the KV cache");
  const std::string bench_md = std::filesystem::path(L.dir()).parent_path().string() + "/bench/decode.md";
  std::ifstream in(bench_md);
  bool printed = false;
  if (in) {
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
      if (line.rfind("Crossover", 0) == 0) inside = true;
      if (inside && line.rfind("Targets", 0) == 0) break;
      if (inside) L.say(line), printed = true;
    }
  }
  if (!printed) {
    L.say("(no ", bench_md, " yet: `make bench` writes it) — from Step 3, the KV cache vs:");
    for (const char* name : {"longformer", "linear", "performer", "reformer"}) {
      const auto* a = point(name, "cached", t_hi);
      if (a && kv_hi)
        L.say("  ", name, " at t = ", t_hi, ": ", lesson::fixed(kv_hi->ms_per_token / a->ms_per_token, 2),
              "× the speed of the KV cache");
    }
  }
  const auto* lin_hi = point("linear", "cached", t_hi);
  L.check("at t = " + std::to_string(t_hi) + ", linear attention's constant state decodes a token faster than the "
          "KV cache (measured)", lin_hi && kv_hi && lin_hi->ms_per_token < kv_hi->ms_per_token,
          lin_hi && kv_hi ? lesson::fixed(lin_hi->ms_per_token, 4) + " vs " + lesson::fixed(kv_hi->ms_per_token, 4) + " ms"
                          : "not measured");

  // %% [markdown]
  // ## Step 6 · your prediction (EXERCISE)
  // Pick a causal scheme (`attnzoo list`) and predict: after 1024 tokens, is its decoder's state the same size as
  // after 256 — or larger? Think about what a new token's query must be able to reach: every earlier key (a cache
  // that grows), a window (a ring), a sum (a fixed matrix), or keys chosen by their content (all of them, kept).
  // The self-check builds the decoder with the scheme's LM preset and measures.
  // %%
  L.step("Step 6 · whose state stays the same size? (EXERCISE)");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  MyPrediction mine;
  mine.scheme = "full";               // try longformer, linear, performer, sparse, reformer, ...
  mine.state_stays_the_same = false;  // your prediction
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyPrediction answer = L.exercise(mine, solution::prediction(), solution::wrong_prediction());
  const attention::Scheme* chosen = nullptr;
  for (const attention::Scheme* s : attention::all_schemes())
    if (s->name() == answer.scheme) chosen = s;
  if (L.exercise_check("your scheme is a registered one with a causal variant", chosen && chosen->supports_causal(),
                       answer.scheme, "pick a name from `attnzoo list` whose causal column says yes")) {
    const int64_t big = 1024;
    core::Rng r2(L.seed() + 1);
    const Tensor qe = core::randn({1, 2, big, 16}, r2), ke = core::randn({1, 2, big, 16}, r2),
                 ve = core::randn({1, 2, big, 16}, r2);
    const int64_t at_256 = decoder_after(answer.scheme, qe, ke, ve, 256, big)->state_floats();
    const int64_t at_1024 = decoder_after(answer.scheme, qe, ke, ve, big, big)->state_floats();
    const bool same = at_256 == at_1024;
    L.say(answer.scheme, ": ", at_256, " floats after 256 tokens, ", at_1024, " after 1024");
    L.exercise_check("your prediction of whether " + answer.scheme + "'s state stays the same size",
                     answer.state_stays_the_same == same, same ? "it does" : "it grows",
                     same ? "its state does not depend on t: look at what it keeps in Step 2"
                          : "its state grows with t: a later query can still reach keys it must keep");
  }
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}

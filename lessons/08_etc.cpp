// %% [markdown]
// # 08 · ETC: global tokens, a local band and relative positions
//
// Ainslie et al. (2020), *ETC: Encoding Long and Structured Inputs in Transformers* (EMNLP), split the input of a
// Transformer in two:
//
// - a **long input** of n_l tokens (a document), where each token attends only to a band of radius r around it
//   (l2l) — O(n_l·r) instead of O(n_l²);
// - a small **global input** of G tokens (e.g. one per sentence or paragraph, or a few special tokens) that
//   attend to everything (g2g, g2l) and that every long token attends to (l2g).
//
// A long token's band and the global tokens share ONE softmax, and so do a global token's keys. Information
// travels between distant long tokens in two hops through the global tokens. Instead of absolute positions, ETC
// labels every attended pair with a **relative position** clipped at ±k and adds a learned per-pair quantity to
// the logits (the paper uses relative position representations à la Shaw et al. 2018; this course uses the
// simplest member of that family: one learned scalar per head and clipped distance). Special labels for l2g and
// g2l pairs let the model tell the pieces apart — the paper also uses them to encode structure (which global
// token summarises which sentence).
//
// We lay out the four pieces, build the relative ids, run the long rows through the shared index_attention
// kernel (with a trick that carries the biases in extra coordinates of q and k), check everything against dense
// attention with the same biases and mask, verify the paper's exactness claim (a large enough band with shared
// projections and no relative biases IS full attention), and measure the linear cost.
//
// Legend: B = batch, H = heads, n = G + n_l positions (the global tokens first), d = head size, G = global
// tokens, n_l = long tokens, r = radius, k = relative-position clip. q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/etc.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using attention::EtcOptions;
using lesson::head;        // the (n, m) matrix of one head (lessons/lesson.h)
using lesson::list_str;    // {0, 16, 20} (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

img::Image parts_panel(const EtcOptions& o, int64_t n, const std::string& title) {
  img::HeatmapOptions p;
  p.title = title;
  p.subtitle = "G = " + std::to_string(o.global_tokens) + ", n_l = " + std::to_string(n - o.global_tokens) +
               ", r = " + std::to_string(o.window) + (o.causal ? ", causal" : "");
  p.xlabel = "key position j (globals first)";
  p.ylabel = "query position i";
  p.target_px = 320;
  p.colors = {img::Color{235, 235, 235}, img::categorical(1), img::categorical(3), img::categorical(2), img::categorical(0)};
  return img::categorical_heatmap(attention::etc_parts(o, n), {"not attended", "g2g", "g2l", "l2g", "l2l band"}, p);
}

// The heatmaps of this lesson: the global tokens come first on both axes.
const lesson::MapStyle etc_style = lesson::MapStyle().xlabel("key position j (globals first)").px(320);


// The kernel against the dense reference (scores + the (H, n, n) bias matrix, -inf outside the pattern):
// outputs and the gradients of q, k, v and the biases for upstream g. Returns the largest difference.
float kernel_vs_dense(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& g,
                      const EtcOptions& o, const Tensor& pad) {
  return lesson::kernel_vs_reference(
      [&](const std::vector<Tensor>& x) { return attention::etc_attention(x[0], x[1], x[2], o, x[3], pad); },
      [&](const std::vector<Tensor>& x) { return attention::etc_dense_reference(x[0], x[1], x[2], o, x[3], pad); },
      {q, k, v, bias}, g).max_abs_diff();
}

// %%
// Step 10's exercise: your configuration, and your prediction of how many relative ids it actually uses.
// Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/08_etc.h.
struct MyConfiguration {
  EtcOptions options;
  int64_t predicted_ids_in_use = 0;  // how many of the V relative ids some attended pair gets, at n = 45
};
#include "lessons/solutions/08_etc.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "08_etc");

  // %% [markdown]
  // ## Step 1 · two inputs in one sequence, four pieces of attention
  // The convention of this course: the FIRST G positions of the sequence are the global tokens, the remaining
  // n_l are the long input (so `attnzoo run etc` and the layer take one (B, H, n, d) or (B, n, d_model) tensor).
  // With G = 4 global and n_l = 32 long tokens, radius r = 3:
  // - g2g (G × G) and g2l (G × n_l): the global rows are full;
  // - l2g (n_l × G): every long token sees every global token;
  // - l2l: a band of 2r + 1 = 7 long tokens around the diagonal.
  // %%
  L.step("Step 1 · the four pieces");
  const int64_t G = 4, n = 36, n_l = n - G;
  const EtcOptions o(G, 3, 2, false);
  const IntTensor parts = attention::etc_parts(o, n);  // (n, n)
  int64_t counts[5] = {0, 0, 0, 0, 0};
  for (int64_t e = 0; e < parts.numel(); ++e) ++counts[parts.data[static_cast<size_t>(e)]];
  L.say("etc_parts: ", parts.shape, "   g2g ", counts[attention::kEtcG2G], ", g2l ", counts[attention::kEtcG2L], ", l2g ",
        counts[attention::kEtcL2G], ", l2l ", counts[attention::kEtcL2L], " of ", n * n, " pairs");
  const int64_t band = n_l * 7 - 3 * 4;  // 2r+1 per row, minus the r(r+1) cells cut off at the two ends
  L.check("piece sizes: G², G·n_l, n_l·G and n_l(2r+1) - r(r+1)",
          counts[attention::kEtcG2G] == G * G && counts[attention::kEtcG2L] == G * n_l &&
              counts[attention::kEtcL2G] == n_l * G && counts[attention::kEtcL2L] == band);
  L.show(img::hstack({parts_panel(o, n, "ETC: the four pieces"),
                      parts_panel(EtcOptions(G, 3, 2, true), n, "ETC causal: the four pieces")}),
         "quadrants.png",
         "left: the four-quadrant matrix — the 4 global rows are full (g2g orange, g2l red), the 4 global columns "
         "are full (l2g green), the long tokens see a band of 7 (blue). Right: the causal variant (Step 7) — g2l "
         "disappears (every long token comes after every global), g2g and the band keep their lower half");

  // %% [markdown]
  // ## Step 2 · relative position ids
  // Every attended pair gets an id, and the logit gets a learned bias b[h, id]:
  //     score(i, j) = q_i·k_j / √d + b[h, id(i, j)]
  // - l2l and g2g: id = clip(j - i, -k, k) + k — 2k + 1 ids; all pairs further apart than k share one id;
  // - l2g: id 2k + 1, g2l: id 2k + 2 (one label each; the paper's structured inputs use two, "this global token
  //   summarises my sentence" or not).
  // So a head has only V = 2k + 3 position parameters, whatever n is, and nothing depends on absolute
  // positions: the same model reads any length.
  // %%
  L.step("Step 2 · relative position ids");
  const IntTensor ids = attention::etc_relative_ids(o, n);  // (n, n), -1 where not attended
  std::vector<int64_t> row20(ids.data.begin() + 20 * n, ids.data.begin() + 21 * n);
  L.say("k = 2: V = ", attention::etc_num_relative_ids(o), " ids: 0..4 = distance -2..+2 (clipped), 5 = l2g, 6 = g2l");
  L.say("ids of long token 16 (position 20): ", list_str(row20));
  L.check("position 20 sees the globals with id 5, itself with id 2 (distance 0), position 23 with id 4 (3 clipped to 2)",
          row20[0] == 5 && row20[3] == 5 && row20[20] == 2 && row20[23] == 4 && row20[24] == -1);
  core::Rng brng = L.rng(1);
  const int64_t H = 2;
  const Tensor bias = core::randn({H, attention::etc_num_relative_ids(o)}, brng, 0.0f, 1.0f);  // (H, V)
  L.print("relative biases b (H, V), drawn here at random (a layer learns them)", bias);
  Tensor signed_distance = Tensor::zeros({n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int part = static_cast<int>(parts.at({i, j}));
      if (part == attention::kEtcL2L || part == attention::kEtcG2G)
        signed_distance.at({i, j}) = static_cast<float>(std::clamp<int64_t>(j - i, -o.rel_clip, o.rel_clip));
    }
  const Tensor bias_matrix = attention::etc_bias_matrix(o, bias, n);  // (H, n, n)
  L.show(img::hstack({matrix_map(signed_distance, "relative position clip(j - i, -k, k)", "l2l and g2g pairs, k = 2",
                                 etc_style.value("clipped distance").diverging()),
                      matrix_map(head(core::unsqueeze(bias_matrix, 0), 0), "bias b[0, id(i, j)] on the logits",
                                 "head 0, every attended pair", etc_style.value("bias").diverging())}),
         "relative_ids.png",
         "left: the relative position of every l2l and g2g pair, clipped at ±2 (blue before, red after; white "
         "on the diagonal and on every cell without a distance) — constant along each diagonal and saturated "
         "beyond the clip; right: the bias this head adds to each logit — 5 values along the diagonals, one for "
         "the l2g columns, one for the g2l rows, 0 where nothing is attended");

  // %% [markdown]
  // ## Step 3 · the kernel: key lists for the long rows, a dense block for the global rows
  // A long query's keys are listed in slots (1, 1, n_l, K) for the shared index_attention kernel: slot t holds
  // the long token at offset t - r (-1 past the ends), the last G slots the global tokens: K = 2r + 1 + G = 11.
  // The G global rows see all n keys: a small (G, n) dense block. Both are O(n).
  //
  // index_attention computes q·k/√d only — no additive bias. The relative biases ride in M = 2r + 1 extra
  // coordinates: the band offsets -r..r are all different modulo M, so with
  //     q'_i = [q_i, √d·onehot(i mod M)],   k'_j = [k_j, ψ_j],   ψ_j[a] = b[id(offset ≡ j - a mod M)],
  // the extra coordinates contribute exactly ψ_j[i mod M] = b[id(i, j)] to q'_i·k'_j/√d for every listed pair
  // (global keys get ψ = b[l2g]·1). Exact, and only M extra numbers per token — no n × n bias matrix.
  // %%
  L.step("Step 3 · the kernel");
  const IntTensor index = attention::etc_long_index(o, n);  // (1, 1, n_l, K)
  const int64_t K = index.shape[3];
  std::vector<int64_t> slots16(index.data.begin() + 16 * K, index.data.begin() + 17 * K);
  L.say("etc_long_index: ", index.shape, "   (1, 1, n_l, 2r+1+G)");
  L.say("long token 16 (position 20) lists: ", list_str(slots16), "   — positions 17..23, then the globals 0..3");
  const auto cols = attention::etc_bias_columns(o, bias, n, 16);  // query (n_l, M), key (H, n, M)
  L.say("bias columns: query ", cols.query.shape(), ", key ", cols.key.shape(), "   (M = 2r + 1 = 7)");
  {
    const Tensor carried = core::matmul(cols.query, cols.key, false, true) / 4.0f;  // (H, n_l, n): / √d, d = 16
    float worst = 0.0f;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n_l; ++i)
        for (int64_t s = 0; s < K; ++s) {
          const int64_t j = index.data[static_cast<size_t>(i * K + s)];
          if (j >= 0) worst = std::max(worst, std::fabs(carried.at({h, i, j}) - bias_matrix.at({h, G + i, j})));
        }
    L.check("the extra coordinates carry exactly b[h, id(i, j)] on every listed pair", worst < 1e-6f,
            "max |diff| = " + lesson::sig(worst, 2));
  }

  // %% [markdown]
  // ## Step 4 · check it against dense attention with the same biases and mask
  // The O(n²) reference: dense scores + the (H, n, n) bias matrix, -inf outside the pattern, softmax, @ v.
  // The kernel must match its output and its gradients for q, k, v AND the biases — at n = 37 and 64, with
  // padding keys, causal or not.
  // %%
  L.step("Step 4 · the kernel equals the dense reference");
  {
    core::Rng crng = L.rng(2);
    for (int64_t cn : {37, 64})
      for (bool causal : {false, true}) {
        const EtcOptions co(4, 5, 3, causal);
        const Tensor q0 = core::randn({2, 2, cn, 16}, crng), k0 = core::randn({2, 2, cn, 16}, crng),
                     v0 = core::randn({2, 2, cn, 16}, crng), g = core::randn({2, 2, cn, 16}, crng),
                     b0 = core::randn({2, attention::etc_num_relative_ids(co)}, crng);
        Tensor pad = Tensor::ones({2, cn});
        pad.at({1, cn - 1}) = pad.at({1, 2}) = 0.0f;  // a padded long token and a padded global token
        const float worst = kernel_vs_dense(q0, k0, v0, b0, g, co, pad);
        L.check("n = " + std::to_string(cn) + (causal ? ", causal" : "") +
                    ": output and gradients (q, k, v, biases) equal the dense reference",
                worst < 1e-4f, "max |diff| = " + lesson::sig(worst, 2));
      }
  }

  // %% [markdown]
  // ## Step 5 · the exactness check: ETC contains full attention
  // With a radius r >= n_l - 1 every long token sees every long token, the global rows see everything anyway,
  // and with zero relative biases and ONE set of projections for global and long tokens, nothing distinguishes
  // the pieces any more: ETC is exactly full attention over [global; long]. (The layer gives the global tokens
  // their own Q_g, K_g, V_g by default — `shared_qkv=false`; copying the long projections into them restores the
  // equality.)
  // %%
  L.step("Step 5 · r >= n - 1, no biases, shared projections: full attention");
  {
    core::Rng erng = L.rng(3);
    const int64_t en = 40;
    const Tensor q0 = core::randn({2, 2, en, 16}, erng), k0 = core::randn({2, 2, en, 16}, erng),
                 v0 = core::randn({2, 2, en, 16}, erng);
    const EtcOptions wide(4, en, 3, false);
    const Tensor zero = Tensor::zeros({2, attention::etc_num_relative_ids(wide)});
    L.check_close("kernel: r = n, b = 0 -> dense_attention(q, k, v)", attention::etc_attention(q0, k0, v0, wide, zero),
                  attention::dense_attention(q0, k0, v0), 1e-5f);
    const float narrower = lesson::max_abs_diff(
        attention::etc_attention(q0, k0, v0, EtcOptions(4, en - 4 - 2, 3, false), zero), attention::dense_attention(q0, k0, v0));
    L.check("one radius short (r = n_l - 2) it is not", narrower > 1e-3f, "max |diff| = " + lesson::sig(narrower, 2));

    attention::LayerConfig lc;
    lc.d_model = 32;
    lc.n_heads = 2;
    lc.set = {"window=100", "rel_std=0"};
    auto layer = attention::find_scheme("etc").make_layer(lc, erng);
    auto* etc = dynamic_cast<attention::EtcLayer*>(layer.get());
    const Tensor x = core::randn({2, en, 32}, erng);
    auto heads = [&](const core::nn::Linear& w) { return attention::split_heads(w.forward(x), 2); };
    const Tensor full = etc->w_o.forward(attention::merge_heads(attention::dense_attention(heads(etc->w_q), heads(etc->w_k), heads(etc->w_v))));
    const float separate = lesson::max_abs_diff(layer->forward(x), full);
    L.say("layer with its own global projections vs full attention with the long projections: max |diff| = ",
          lesson::sig(separate, 2));
    const std::vector<std::pair<core::nn::Linear*, core::nn::Linear*>> copies = {
        {&etc->w_q, etc->w_qg.get()}, {&etc->w_k, etc->w_kg.get()}, {&etc->w_v, etc->w_vg.get()}};
    for (auto [from, to] : copies) {
      std::copy(from->weight.data(), from->weight.data() + from->weight.numel(), to->weight.data());
      std::copy(from->bias.data(), from->bias.data() + from->bias.numel(), to->bias.data());
    }
    L.check("layer: separate projections differ from full attention; made equal, the layer IS full attention",
            separate > 1e-3f && lesson::max_abs_diff(layer->forward(x), full) < 1e-5f,
            "max |diff| after copying " + lesson::sig(lesson::max_abs_diff(layer->forward(x), full), 2));
  }

  // %% [markdown]
  // ## Step 6 · what the kernel applied
  // `etc_probabilities` returns the long rows in slot form (B, H, n_l, K), the global rows (B, H, G, n), and both
  // scattered into the n × n matrix A with out == A @ v. Look for the four quadrants in the weights, and for the
  // diagonals where a head's relative biases raise or lower the weights.
  // %%
  L.step("Step 6 · the effective attention");
  core::Rng rng = L.rng(0);
  // Both heads get the same q, k, v (scaled down so that the weights spread out): what differs is their biases.
  const Tensor q = core::expand(core::randn({1, 1, n, 16}, rng) * 0.3f, {1, H, n, 16}),
               k = core::expand(core::randn({1, 1, n, 16}, rng), {1, H, n, 16}),
               v = core::expand(core::randn({1, 1, n, 16}, rng), {1, H, n, 16});
  const auto probs = attention::etc_probabilities(q, k, v, o, bias);
  L.say("long rows in slot form ", probs.long_slots.shape(), " + global rows ", probs.global.shape(), " -> A ", probs.dense.shape());
  L.check_close("out == A @ v: the drawn matrix is the one the kernel applied", attention::etc_attention(q, k, v, o, bias),
                core::matmul(probs.dense, v), 1e-5f);
  L.show(img::hstack({matrix_map(head(probs.dense, 0), "head 0: A (n x n)", "G = 4, r = 3, k = 2, random q, k, v",
                                 etc_style),
                      matrix_map(head(probs.dense, 1), "head 1: A (n x n)", "the same q, k, v, other biases",
                                 etc_style)}),
         "attention.png",
         "the effective attention of two heads — full rows at the top (the global queries), full columns on the "
         "left (every long token reads the globals), a band along the diagonal; the two heads differ only by "
         "their relative biases: compare the brightness of the diagonals and of the global columns");

  // %% [markdown]
  // ## Step 7 · causal ETC
  // The paper's ETC is an encoder. A causal version makes sense in this course's convention (global tokens
  // first): the causal mask is taken over sequence positions, so a global token sees only the globals before it,
  // a long token sees the band behind it and every global token — all in its past — and g2l is empty. The global
  // tokens then act as a learned prefix memory that cannot summarise the long input (picture in Step 1, right).
  // Changing tokens after t must leave every output up to t bit-identical.
  // %%
  L.step("Step 7 · causal ETC");
  {
    const EtcOptions co(G, 3, 2, true);
    core::Rng crng = L.rng(4);
    const Tensor cq = core::randn({1, 2, n, 16}, crng), ck = core::randn({1, 2, n, 16}, crng),
                 cv = core::randn({1, 2, n, 16}, crng), cb = core::randn({2, attention::etc_num_relative_ids(co)}, crng);
    Tensor cq2 = cq.clone(), ck2 = ck.clone(), cv2 = cv.clone();
    const int64_t t = 20;
    for (Tensor* m : {&cq2, &ck2, &cv2})
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = t + 1; i < n; ++i)
          for (int64_t c = 0; c < 16; ++c) m->at({0, h, i, c}) += 1.0f;
    const Tensor a = attention::etc_attention(cq, ck, cv, co, cb), a2 = attention::etc_attention(cq2, ck2, cv2, co, cb);
    L.say("causal: V = k + 2 = ", attention::etc_num_relative_ids(co), " ids (distances -2..0, l2g)");
    L.check("causal: outputs up to t = 20 are bit-identical when every token after t changes",
            lesson::max_abs_diff(core::slice(a, 2, 0, t + 1), core::slice(a2, 2, 0, t + 1)) == 0.0f);
  }

  // %% [markdown]
  // ## Step 8 · the cost grows linearly
  // Forward + backward time and peak memory of the ETC kernel at its defaults (G = 4, r = 8, k = 4: K = 21 slots
  // and M = 17 bias coordinates per long token) and of full attention, B = 1, H = 1, d = 64, at n = 1K, 2K, 4K
  // (with --quick: 512 ... 2K). Memory is exact (the engine's counting allocator); times vary between runs.
  // %%
  L.step("Step 8 · time and memory vs n");
  const lesson::CostResult cost = lesson::cost_step(
      L, {lesson::Curve("etc").expect(1.0, 1.0), lesson::Curve("full").expect(2.0, 2.0)},
      lesson::CostOptions()
          .sizes(L.quick() ? 512 : 1024, L.quick() ? 2048 : 4096)
          .title("ETC (G = 4, r = 8, k = 4) vs full attention")
          .figure("cost.png", "time and peak memory of forward + backward on log-log axes, fitted exponents in the "
                              "legend — ETC rises with slope about 1, full attention with slope about 2"));
  const attention::Scaling& etc_cost = cost.fit("etc");
  const attention::Scaling& full_cost = cost.fit("full");

  // %% [markdown]
  // ## Step 9 · what the paper reported
  // Ainslie et al. (2020) report (the paper's results, described qualitatively — see the paper for the numbers):
  // - long inputs of thousands of tokens with a few hundred global tokens, with attention cost linear in the
  //   long input (for Natural Questions: 4,096 long input tokens, in the released code — the default
  //   max_seq_length of etcmodel/models/nq/run_nq.py in google-research/google-research);
  // - relative position labels replace absolute positions and, with the g2l/l2g labels, encode the structure of
  //   the input (which global token stands for which sentence or paragraph);
  // - pretraining with masked language modelling plus contrastive predictive coding (CPC) on the global tokens;
  // - state-of-the-art results at the time on four datasets with long or structured inputs: Natural Questions,
  //   HotpotQA, WikiHop and OpenKP (keyphrase extraction), per the paper's abstract (arXiv v5). Their ablations
  //   test parts of the design; CPC was ablated only together with hard g2l masking (not on its own), and we
  //   found no ablation that removes the relative positions, so the lesson claims nothing about what each part
  //   is worth.
  // %%
  L.step("Step 9 · what the paper reported (Ainslie et al. 2020)");
  L.say("paper: long inputs plus global tokens, attention linear in the long input (Natural Questions: 4,096 long input "
        "tokens, in the released code)");
  L.say("paper: relative positions + g2l/l2g labels encode structure; MLM + CPC pretraining");
  L.say("paper: state of the art at the time on Natural Questions, HotpotQA, WikiHop and OpenKP");
  L.say("this lesson: exact equality with the dense reference (outputs and gradients, biases included), ETC == full "
        "attention at r >= n - 1; memory exponent ", lesson::fixed(etc_cost.memory_exponent, 2), " vs full ",
        lesson::fixed(full_cost.memory_exponent, 2), "; at n = ", full_cost.n.back(), " ETC needs ",
        lesson::fixed(etc_cost.mib.back(), 2), " MiB for forward + backward, full attention ",
        lesson::fixed(full_cost.mib.back(), 1), " MiB");

  // %% [markdown]
  // ## Step 10 · your own configuration
  // Change the settings below, rebuild, rerun. A head has V = 2k + 3 relative ids (causal k + 2), but not every
  // id has to occur: first predict how many of them some attended pair of your configuration gets at n = 45.
  // The self-check counts them, and verifies that the kernel still equals the dense reference (outputs and
  // gradients, biases included).
  // %%
  L.step("Step 10 · your own configuration");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // n = 45 positions, the first global_tokens of them global. Try: no global tokens (global_tokens = 0), a
  // radius of 0 (only the token itself), a clip larger than the radius (rel_clip = 12: which ids can still
  // occur?), causal = true. First PREDICT predicted_ids_in_use: how many distinct relative ids the attended pairs
  // get (the l2l and g2g distances, clipped at ±k, and the l2g and g2l labels).
  MyConfiguration my_config;
  my_config.options.global_tokens = 6;
  my_config.options.window = 5;
  my_config.options.rel_clip = 3;
  my_config.options.causal = false;
  my_config.predicted_ids_in_use = 9;  // distances -3..3 (the band reaches 5, clipped to 3), l2g and g2l
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyConfiguration answer = L.exercise(my_config, solution::configuration(), solution::wrong_configuration());
  const EtcOptions mine = answer.options;
  const int64_t en = 45, eH = 3;
  std::string problem;  // the library's own rules for ETC settings, in its words
  try {
    attention::find_scheme("etc").configure({"global_tokens=" + std::to_string(mine.global_tokens),
                                             "window=" + std::to_string(mine.window),
                                             "rel_clip=" + std::to_string(mine.rel_clip)},
                                            mine.causal);
    attention::etc_check_length(mine, en);
  } catch (const core::Error& e) {
    problem = std::string(e.what()) + " — global_tokens, window and rel_clip count tokens: all >= 0, and at n = 45 "
              "at least one position must be left for the long input";
  }
  // %% [markdown]
  // **Checking your configuration.** Only if ETC accepts it: random q, k, v, relative biases and an output
  // gradient at n = 45, the kernel against the dense reference (outputs and gradients), then the count of the ids
  // that some attended pair reads — the others are biases no pair ever reads — against your prediction.
  // %%
  if (L.exercise_check("your configuration is one ETC can use", problem.empty(),
                       "G = " + std::to_string(mine.global_tokens) + ", r = " + std::to_string(mine.window) +
                           ", k = " + std::to_string(mine.rel_clip),
                       problem)) {
    core::Rng erng = L.rng(6);
    const Tensor q0 = core::randn({1, eH, en, 8}, erng), k0 = core::randn({1, eH, en, 8}, erng),
                 v0 = core::randn({1, eH, en, 8}, erng), g = core::randn({1, eH, en, 8}, erng),
                 b0 = core::randn({eH, attention::etc_num_relative_ids(mine)}, erng);
    const IntTensor eindex = attention::etc_long_index(mine, en);
    L.say("your configuration at n = ", en, ": ", mine.global_tokens, " global + ", en - mine.global_tokens, " long tokens, long key lists ",
          eindex.shape, ", V = ", attention::etc_num_relative_ids(mine), " relative ids per head");
    const float worst = kernel_vs_dense(q0, k0, v0, b0, g, mine, Tensor());
    L.check("your configuration: output and gradients equal the dense reference", worst < 1e-4f,
            "max |diff| = " + lesson::sig(worst, 2));
    // The ids some attended pair gets: the others are biases no pair ever reads.
    const IntTensor your_ids = attention::etc_relative_ids(mine, en);  // (n, n), -1 where not attended
    std::vector<char> used(static_cast<size_t>(attention::etc_num_relative_ids(mine)), 0);
    for (int64_t id : your_ids.data)
      if (id >= 0) used[static_cast<size_t>(id)] = 1;
    std::vector<int64_t> in_use;
    for (size_t id = 0; id < used.size(); ++id)
      if (used[id]) in_use.push_back(static_cast<int64_t>(id));
    const int64_t count = static_cast<int64_t>(in_use.size());
    L.say("ids in use: ", lesson::list_str(in_use), " — ", count, " of V = ", used.size(), " (l2g is id ",
          attention::etc_l2g_id(mine), mine.causal ? "" : ", g2l id " + std::to_string(attention::etc_g2l_id(mine)), ")");
    L.exercise_check("your prediction of the number of relative ids in use", answer.predicted_ids_in_use == count,
                     "predicted " + std::to_string(answer.predicted_ids_in_use) + ", counted " + std::to_string(count),
                     "V = 2k + 3 (causal k + 2) is every clipped distance -k..k plus two labels, but a long token "
                     "meets long tokens at most r away (and within the n - G long tokens) and a global token meets globals at most G - 1 away: count "
                     "the distances that occur (causal: only <= 0), clip them at ±k, then add l2g if G > 0 and g2l "
                     "if G > 0 and not causal");
  } else {
    L.say("(skipped: the kernel check and the ids of your configuration — ETC cannot build it)");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Step 1: how many pairs does ETC attend to at n_l = 4096, r = 84, G = 128, and what fraction of the full
  //    (G + n_l)² is that?
  // 2. Step 2: with k >= r, every l2l distance has its own id. What changes in the picture? What is lost when
  //    k = 0? In the EXERCISE block, predict the ids in use for rel_clip = 12 with G = 6, then with G = 8.
  // 3. Step 5: the exactness check needs r >= n_l - 1. Why is r = n_l - 2 already different — which pairs are
  //    missing?
  // 4. Step 3: why must M be at least the number of distinct band offsets for the bias trick to be exact? Try
  //    a smaller M on paper: which pairs would collide?
  // Next lesson: BigBird, which adds random blocks to the window and the global tokens.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}

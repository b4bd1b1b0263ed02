// %% [markdown]
// # 02 · Star Transformer: a ring of satellites and one relay
//
// Full attention connects all n² pairs of tokens. Guo et al. 2019 (Star-Transformer, NAACL) keep a sparse
// graph instead: every token becomes a *satellite* hᵢ that talks only to its two ring neighbours, its own
// embedding eᵢ and one shared *relay* node s; the relay talks to every satellite. Each cycle of the paper's
// Algorithm 1 updates the satellites, then the relay:
//
//     hᵢ ← LayerNorm(ReLU(MultiAtt(hᵢ, [h_{i-1}; hᵢ; h_{i+1}; eᵢ; s])))     5 keys per satellite
//     s  ← LayerNorm(ReLU(MultiAtt(s, [s; h_1; …; h_n])))                   n+1 keys for the relay
//
// starting from h⁰ = e and s⁰ = mean(e). That is 5n + (n+1) edges instead of n²: O(n·d) per cycle. And
// because every satellite reads the relay, and the relay read every token, any two tokens are two hops
// apart — the receptive field is global after ONE layer, where a sliding window needs n/(2r) layers.
//
// In this lesson we draw the graph, build a satellite update from core ops (shapes and a worked example),
// check it against the library's fused kernel, compare the ring with zero-padded ends, show the global
// receptive field with gradients, and measure the linear cost.
//
// A choice of this course: the satellites form a RING (the first satellite's left neighbour is the last one).
// The official code pads the two ends with zeros instead (Step 4 shows what that padding does), so our kernel
// differs from it there.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, D = d_model. q, k, v are (B, H, n, d).
// %%
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/star.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Shape;
using core::Tensor;
namespace img = plot;

// One satellite update from core ops (the library's fused version is attention::star_satellite_attention).
// q, k_h, v_h, k_e, v_e: (B, H, n, d); k_s, v_s: (B, H, 1, d); prev, next: the ring as 1-D indices (n).
struct SatelliteResult {
  Tensor out;    // (B, H, n, d)
  Tensor probs;  // (B, H, n, 5): weights of [prev, self, next, embedding, relay]
};
SatelliteResult satellite_from_ops(const Tensor& q, const Tensor& k_h, const Tensor& v_h, const Tensor& k_e,
                                   const Tensor& v_e, const Tensor& k_s, const Tensor& v_s, const IntTensor& prev,
                                   const IntTensor& next) {
  const Shape s = q.shape();  // (B, H, n, d)
  // the 5 context keys of every satellite, stacked on a new axis: (B, H, n, 5, d)
  const Tensor keys = core::stack({core::index_select(k_h, 2, prev), k_h, core::index_select(k_h, 2, next), k_e,
                                   core::expand(k_s, s)},
                                  3);
  const Tensor values = core::stack({core::index_select(v_h, 2, prev), v_h, core::index_select(v_h, 2, next), v_e,
                                     core::expand(v_s, s)},
                                    3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s[3]));
  const Tensor scores = core::sum(core::unsqueeze(q, 3) * keys, -1) * scale;  // (B,H,n,1,d)·(B,H,n,5,d) -> (B,H,n,5)
  const Tensor probs = core::softmax(scores, -1);                               // (B, H, n, 5)
  const Tensor out = core::sum(core::unsqueeze(probs, -1) * values, 3);        // (B,H,n,5,1)·(B,H,n,5,d) -> (B,H,n,d)
  return {out, probs};
}

IntTensor ring_index(int64_t n, int64_t step) {  // (i + step) mod n
  IntTensor idx({n});
  for (int64_t i = 0; i < n; ++i) idx.data[static_cast<size_t>(i)] = ((i + step) % n + n) % n;
  return idx;
}

Tensor rotate(const Tensor& x, int64_t r) { return core::index_select(x, 2, ring_index(x.size(2), r)); }

// A sliding-window attention layer without a relay: query i sees keys |i - j| <= radius (no wrap-around), with
// its own projections. The comparison for the receptive field.
class WindowLayer : public core::nn::Module {
 public:
  WindowLayer(int64_t d_model, int64_t heads, int64_t radius, core::Rng& rng)
      : heads(heads), radius(radius), w_q(d_model, d_model, rng), w_k(d_model, d_model, rng),
        w_v(d_model, d_model, rng), w_o(d_model, d_model, rng) {}
  Tensor forward(const Tensor& x) const {  // x (B, n, D) -> (B, n, D)
    const int64_t n = x.size(1);
    Tensor blocked = Tensor::zeros({1, 1, n, n});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) blocked.at({0, 0, i, j}) = std::abs(i - j) > radius ? 1.0f : 0.0f;
    const Tensor q = attention::split_heads(w_q.forward(x), heads), k = attention::split_heads(w_k.forward(x), heads),
                 v = attention::split_heads(w_v.forward(x), heads);
    const Tensor scores =
        core::masked_fill(attention::dense_scores(q, k), blocked, -std::numeric_limits<float>::infinity());
    return w_o.forward(attention::merge_heads(core::matmul(core::softmax(scores, -1), v)));
  }
  int64_t heads, radius;
  core::nn::Linear w_q, w_k, w_v, w_o;
};

// |d(w · y_i) / dx_j| for every output i and input j: (n, n), the norm over the channels of x_j, for a fixed
// random direction w (D). (Not the plain sum of y_i: a layer ending in LayerNorm has a sum that is constant.)
// One backward pass per output token i.
Tensor gradient_map(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0) {
  const int64_t n = x0.size(1), D = x0.size(2);
  core::Rng wrng(12345);
  const Tensor w = core::randn({D}, wrng);
  Tensor map = Tensor::zeros({n, n});
  for (int64_t i = 0; i < n; ++i) {
    Tensor x = x0.detach().clone().set_requires_grad();
    core::sum(core::slice(f(x), 1, i, i + 1) * w).backward();  // d(w · y_i) / dx
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t c = 0; c < D; ++c) s += double(x.grad().at({0, j, c})) * x.grad().at({0, j, c});
      map.at({i, j}) = static_cast<float>(std::sqrt(s));
    }
  }
  return map;
}

// log10 of a gradient map, with exact zeros drawn at the floor.
img::Image gradient_heatmap(const Tensor& map, const std::string& title, const std::string& subtitle) {
  const float floor = -8.0f;
  Tensor shown = Tensor::empty(map.shape());
  for (int64_t i = 0; i < map.numel(); ++i)
    shown.data()[i] = map.data()[i] > 0.0f ? std::max(floor, std::log10(map.data()[i])) : floor;
  img::HeatmapOptions o;
  o.title = title;
  o.subtitle = subtitle;
  o.xlabel = "input token j";
  o.ylabel = "output token i";
  o.value_label = "log10 |dy_i/dx_j| (-8 = exactly 0)";
  o.vmin = floor;
  o.vmax = 1.0f;
  o.target_px = 384;
  return img::heatmap(shown, o);
}

// %%
// Step 7's exercise: a stack of window layers, and your prediction of how many inputs output 0 sees through
// it. Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/02_star_transformer.h.
struct WindowStack {
  int64_t radius = 1;          // each layer's window: |i - j| <= radius
  int64_t window_layers = 3;   // how many window layers are stacked
  int64_t predicted_seen = 0;  // your prediction: how many of the 16 inputs reach output 0
};
#include "lessons/solutions/02_star_transformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "02_star_transformer");

  // %% [markdown]
  // ## Step 1 · the graph
  // Rows are the nodes that read (n satellites, then the relay); columns are what they read (n satellites,
  // then "my own embedding eᵢ", then the relay): an (n+1) × (n+2) matrix. A satellite row has the ring band
  // {i-1, i, i+1} — wrapping around at the corners, because this course joins the first and the last satellite
  // (the course's choice; the official code pads the ends with zeros) — plus its embedding and the relay. The relay row reads every satellite and itself.
  // %%
  L.step("Step 1 · the (n+1) x (n+2) connectivity");
  const int64_t gn = 12;
  const Tensor C = attention::star_connectivity(gn);  // (13, 14)
  L.say("star_connectivity(", gn, "): ", C.shape(), " — rows: ", gn, " satellites + relay; columns: ", gn,
        " satellites + e_i + relay");
  const double edges = core::sum(C).item();
  L.say("edges: ", edges, " = 5·n + (n+1) = ", 5 * gn + gn + 1, "   (full attention: n² = ", gn * gn, ")");
  L.check("the graph has 5n + n + 1 edges (linear in n)", edges == double(6 * gn + 1));
  L.check("ring corners: satellite 0 reads satellite n-1 and satellite n-1 reads satellite 0",
          C.at({0, gn - 1}) == 1.0f && C.at({gn - 1, 0}) == 1.0f);
  {
    // colour each edge by its kind
    IntTensor kind({gn + 1, gn + 2});
    for (int64_t i = 0; i <= gn; ++i)
      for (int64_t j = 0; j < gn + 2; ++j) {
        int64_t id = 0;
        if (C.at({i, j}) != 0.0f) {
          if (i == gn) id = 5;                 // the relay reads
          else if (j == i) id = 2;             // self
          else if (j < gn) id = 1;             // ring neighbour
          else if (j == gn) id = 3;            // own embedding
          else id = 4;                         // the relay
        }
        kind.at({i, j}) = id;
      }
    img::HeatmapOptions o;
    o.title = "Star Transformer: who reads whom (one cycle)";
    o.subtitle = "n = 12: rows 0-11 satellites, row 12 the relay";
    o.xlabel = "context: satellites 0-11 | e_i (col 12) | relay (col 13)";
    o.ylabel = "reading node";
    o.colors = {img::Color{240, 240, 240}, img::categorical(0), img::categorical(2), img::categorical(1),
                img::categorical(3), img::categorical(4)};
    L.show(img::categorical_heatmap(kind, {"no edge", "ring neighbour", "self", "own embedding e_i", "relay s",
                                           "relay reads"},
                                    o),
           "connectivity.png",
           "the (n+1) x (n+2) graph: a tridiagonal ring band with its two corners (0 reads 11, 11 reads 0), the "
           "embedding column and the relay column full for satellites, and the relay's row full — 6n+1 edges, "
           "not n^2");
  }

  // %% [markdown]
  // ## Step 2 · one satellite update from core ops
  // For satellite i we gather its 5 context keys — the ring neighbours by `index_select` with the indices
  // (i-1) mod n and (i+1) mod n, its own key, its embedding's key, the relay's key — stack them into
  // (B, H, n, 5, d), and take a softmax over 5 scores instead of n. In the first cycle h⁰ = e, so the embedding's
  // key is the token's own key, and s⁰ = mean(e) makes the relay's key the mean of the keys. This is the
  // registered kernel `star` (what `attnzoo run star` computes).
  // %%
  L.step("Step 2 · one satellite update from core ops");
  core::Rng rng = L.rng(0);
  const int64_t n = 6, d = 4;
  const Tensor q = core::randn({1, 1, n, d}, rng), k = core::randn({1, 1, n, d}, rng),
               v = core::randn({1, 1, n, d}, rng);
  const IntTensor prev = ring_index(n, -1), next = ring_index(n, +1);
  const Tensor k_s = core::mean(k, 2, true), v_s = core::mean(v, 2, true);  // (1, 1, 1, d): the relay s⁰
  L.say("q, k, v: ", q.shape(), "; prev = [5 0 1 2 3 4], next = [1 2 3 4 5 0]; relay key mean(k): ", k_s.shape());
  const SatelliteResult mine = satellite_from_ops(q, k, v, k, v, k_s, v_s, prev, next);
  L.say("stacked context keys: (1,1,6,5,4); scores and probabilities: ", mine.probs.shape(), "; out: ",
        mine.out.shape());
  L.print("probabilities of satellite 0 over [prev = token 5, self, next = token 1, e_0, relay]",
          core::reshape(core::slice(mine.probs, 2, 0, 1), {5}));
  L.say("Every row has 5 entries, whatever n is: the update costs O(n·5·d), not O(n²·d).");

  // %% [markdown]
  // ## Step 3 · check: the fused kernel, its gradients, and out == A @ v
  // `attention::star_satellite_attention` does the same in one pass with a hand-written backward that keeps
  // only the (B, H, n, 5) probabilities. Outputs and gradients of all seven inputs must match the core-ops
  // version. And the kernel is a linear map of v: `star_effective_attention` spreads the 5 weights back onto
  // an n × n matrix (ring band + self and embedding on the diagonal + relay weight / n in every column).
  // %%
  L.step("Step 3 · check against the fused kernel");
  {
    core::Rng crng = L.rng(1);
    const int64_t cn = 9, cd = 8;
    const core::Shape sh{2, 2, cn, cd}, rs{2, 2, 1, cd};
    std::vector<Tensor> base = {core::randn(sh, crng), core::randn(sh, crng), core::randn(sh, crng),
                                core::randn(sh, crng), core::randn(sh, crng), core::randn(rs, crng),
                                core::randn(rs, crng)};
    const Tensor g = core::randn(sh, crng);
    const lesson::KernelVsReference c = lesson::kernel_vs_reference(
        [&](const std::vector<Tensor>& x) {
          return attention::star_satellite_attention(x[0], x[1], x[2], x[3], x[4], x[5], x[6],
                                                     attention::star_ring(2, cn));
        },
        [&](const std::vector<Tensor>& x) {
          return satellite_from_ops(x[0], x[1], x[2], x[3], x[4], x[5], x[6], ring_index(cn, -1),
                                    ring_index(cn, 1)).out;
        },
        base, g);
    L.check_close("fused kernel output equals the core-ops version", c.out, c.ref_out, 1e-5f);
    const char* names[] = {"dq", "dk_h", "dv_h", "dk_e", "dv_e", "dk_s", "dv_s"};
    float worst = 0.0f;
    for (int i = 0; i < 7; ++i) worst = std::max(worst, lesson::max_abs_diff(c.grads[i], c.ref_grads[i]));
    L.check("fused backward: all seven gradients equal the core-ops version", worst < 1e-4f,
            std::string("max |diff| over ") + names[0] + " ... " + names[6] + " = " + lesson::sig(worst, 2));
    const Tensor A = attention::star_effective_attention(base[0], base[1], base[2]);
    L.check_close("kernel == effective_attention @ v", attention::star_attention(base[0], base[1], base[2]),
                  core::matmul(A, base[2]), 1e-5f);
  }

  // %% [markdown]
  // ## Step 4 · ring or zero-padded ends
  // The official code pads the sequence with a zero vector at both ends to build h_{i-1} and h_{i+1}. A zero
  // key scores q·0 = 0, not -∞: the phantom neighbour still takes softmax weight, and its zero value pulls the
  // end tokens' outputs towards 0 (a trained model can learn to live with that; the ends are simply special).
  // This course joins the ends into a ring instead: the first token's left neighbour is the last token, every
  // token is treated alike, and the kernel commutes with cyclic shifts of the sequence. Neither is wrong; they
  // are different models, and our kernel is the ring.
  // %%
  L.step("Step 4 · ring or zero-padded ends");
  {
    Tensor k_pad = core::index_select(k, 2, prev), v_pad = core::index_select(v, 2, prev);  // (1,1,6,4)
    for (int64_t c = 0; c < d; ++c) k_pad.at({0, 0, 0, c}) = v_pad.at({0, 0, 0, c}) = 0.0f;  // token 0: no left key
    // recompute satellite 0's scores with the zero key in slot "prev"
    const float scale = 1.0f / std::sqrt(float(d));
    double sc[5], z = 0.0;
    const Tensor ctx[5] = {core::slice(k_pad, 2, 0, 1), core::slice(k, 2, 0, 1), core::slice(k, 2, 1, 2),
                           core::slice(k, 2, 0, 1), k_s};
    for (int c = 0; c < 5; ++c) {
      double dot = 0.0;
      for (int64_t t = 0; t < d; ++t) dot += double(q.at({0, 0, 0, t})) * ctx[c].at({0, 0, 0, t});
      z += (sc[c] = std::exp(dot * scale));
    }
    const double phantom = sc[0] / z;
    L.say("zero-padded: satellite 0 gives ", lesson::fixed(100 * phantom, 1),
          " % of its attention to a neighbour that does not exist (score exactly 0)");
    L.check("with zero padding, the phantom key takes weight (padding is not neutral)", phantom > 0.01);
    const Tensor out = attention::star_attention(q, k, v);
    const Tensor shifted = attention::star_attention(rotate(q, 2), rotate(k, 2), rotate(v, 2));
    L.check_close("ring: shifting the input cyclically shifts the output (no token is special)", shifted,
                  rotate(out, 2), 1e-5f);
  }

  // %% [markdown]
  // ## Step 5 · the relay update
  // After the satellites, the relay reads [s; h_1; …; h_n]: ordinary attention with ONE query and n+1 keys,
  // so (B, H, 1, d) @ (B, H, n+1, d)ᵀ -> (B, H, 1, n+1) scores: again O(n·d).
  // %%
  L.step("Step 5 · the relay update");
  {
    const Tensor ctx_k = core::concat({k_s, mine.out}, 2), ctx_v = core::concat({v_s, mine.out}, 2);  // (1,1,7,4)
    const Tensor relay_probs = attention::dense_probabilities(k_s, ctx_k);                          // (1,1,1,7)
    const Tensor s1 = attention::dense_attention(k_s, ctx_k, ctx_v);                                 // (1,1,1,4)
    L.say("relay query s: ", k_s.shape(), ", keys [s; h]: ", ctx_k.shape(), " -> weights ", relay_probs.shape(),
          " -> new relay ", s1.shape());
    L.print("relay weights over [s, h_0 .. h_5]", core::reshape(relay_probs, {n + 1}));
    L.check("the relay's weights cover itself and every satellite and sum to 1",
            std::fabs(core::sum(relay_probs).item() - 1.0f) < 1e-5f && core::max(relay_probs).item() < 1.0f);
  }

  // %% [markdown]
  // ## Step 6 · one layer sees everything
  // Now the registered layer (`find_scheme("star").make_layer`, with cycles=1: one satellite update whose relay
  // is the mean of the embeddings) next to a sliding-window layer of radius 1 without a relay. We backpropagate
  // from each output token i to every input token j: |dy_i/dx_j| is the receptive field. The window layer's
  // gradient is EXACTLY zero outside |i - j| <= 1 (the softmax gives those keys weight 0), so it needs n/2
  // stacked layers to connect the two ends; the Star layer reaches every token through the relay.
  // %%
  L.step("Step 6 · the receptive field of one layer");
  const int64_t rn = 16, D = 16;
  core::Rng lrng = L.rng(2);
  attention::LayerConfig lc;
  lc.d_model = D;
  lc.n_heads = 2;
  lc.set = {"cycles=1"};
  auto star_layer = attention::find_scheme("star").make_layer(lc, lrng);
  WindowLayer window(D, 2, 1, lrng);
  const Tensor x = core::randn({1, rn, D}, lrng);
  const Tensor star_map = gradient_map([&](const Tensor& in) { return star_layer->forward(in); }, x);
  const Tensor window_map = gradient_map([&](const Tensor& in) { return window.forward(in); }, x);
  int64_t star_zero = 0, window_outside_nonzero = 0, window_inside_zero = 0;
  for (int64_t i = 0; i < rn; ++i)
    for (int64_t j = 0; j < rn; ++j) {
      star_zero += star_map.at({i, j}) == 0.0f;
      if (std::abs(i - j) > 1) window_outside_nonzero += window_map.at({i, j}) != 0.0f;
      else window_inside_zero += window_map.at({i, j}) == 0.0f;
    }
  L.say("star layer: ", rn * rn - star_zero, " of ", rn * rn, " (output, input) pairs have a non-zero gradient");
  L.say("window layer (radius 1): ", 3 * rn - 2 - window_inside_zero + window_outside_nonzero, " of ", rn * rn,
        " pairs (the band |i - j| <= 1 has 3n - 2 = ", 3 * rn - 2, ")");
  const float star_weakest = core::max(-star_map).item() * -1.0f, star_strongest = core::max(star_map).item();
  L.say("star layer: weakest |gradient| ", lesson::sig(star_weakest, 2), ", strongest ", lesson::sig(star_strongest, 2),
        " (far above float rounding: the relay path is real, not noise)");
  L.check("star: the gradient of every output reaches every input token after ONE layer",
          star_zero == 0 && star_weakest > 1e-4f * star_strongest);
  L.check("window: the gradient is exactly 0 outside |i - j| <= 1, and non-zero inside",
          window_outside_nonzero == 0 && window_inside_zero == 0);
  L.show(img::hstack({gradient_heatmap(star_map, "Star layer (1 cycle)", "n = 16: band + relay"),
                      gradient_heatmap(window_map, "window layer, radius 1, no relay", "n = 16")}),
         "receptive_field.png",
         "|dy_i/dx_j| on a log scale — left: the Star layer is bright on the ring band (ring corners too) and "
         "dimmer but never zero elsewhere: every input reaches every output through the relay; right: the "
         "window layer is exactly zero (dark floor) outside its 3-wide band");

  // %% [markdown]
  // ## Step 7 · how many window layers would it take?
  // Stacking L_w window layers of radius r widens the receptive field to |i - j| <= r·L_w. Change the numbers
  // below: the self-check verifies that the gradient of output i reaches exactly the inputs within r·L_w of it.
  // %%
  L.step("Step 7 · stacked window layers (EXERCISE)");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // How many window layers of radius `radius` does output 0 need to see input 15 (all 16 inputs)? Find the
  // fewest for radius 1, and before you run, PREDICT how many of the 16 inputs output 0 sees with your stack
  // (predicted_seen): the self-check counts the inputs with a non-zero gradient. Then try radius = 2, and
  // compare with the single Star layer above.
  WindowStack my_stack;
  my_stack.radius = 1;
  my_stack.window_layers = 3;
  my_stack.predicted_seen = 4;  // inputs 0, 1, 2, 3
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const WindowStack answer = L.exercise(my_stack, solution::stack(), solution::wrong_stack());
  const int64_t radius = answer.radius, window_layers = answer.window_layers;
  {
    AZ_CHECK(radius >= 1 && window_layers >= 1, "02_star_transformer: radius and window_layers must be >= 1");
    std::vector<std::unique_ptr<WindowLayer>> stack;
    for (int64_t l = 0; l < window_layers; ++l) stack.push_back(std::make_unique<WindowLayer>(D, 2, radius, lrng));
    const Tensor map = gradient_map(
        [&](const Tensor& in) {
          Tensor h = in;
          for (auto& layer : stack) h = h + layer->forward(h);  // residual, like a Transformer block
          return h;
        },
        x);
    bool exact = true;
    int64_t seen_by_0 = 0;
    for (int64_t i = 0; i < rn; ++i)
      for (int64_t j = 0; j < rn; ++j) {
        const bool inside = std::abs(i - j) <= radius * window_layers;
        exact = exact && (inside == (map.at({i, j}) != 0.0f));
        if (i == 0) seen_by_0 += map.at({0, j}) != 0.0f;
      }
    L.say(window_layers, " window layer(s) of radius ", radius, ": output 0 sees ", seen_by_0, " of ", rn,
          " inputs; a single Star layer sees all ", rn);
    L.check("stacked windows: output i reaches exactly the inputs with |i - j| <= radius * layers", exact,
            "radius " + std::to_string(radius) + " x " + std::to_string(window_layers) + " layers");
    L.exercise_check("your prediction of the inputs output 0 sees", answer.predicted_seen == seen_by_0,
                     "predicted " + std::to_string(answer.predicted_seen) + ", counted " + std::to_string(seen_by_0),
                     "each layer widens the reach by its radius, so output 0 sees inputs 0 .. radius x layers = " +
                         std::to_string(std::min(rn - 1, radius * window_layers)) + " (the sequence ends at " +
                         std::to_string(rn - 1) + ")");
  }

  // %% [markdown]
  // ## Step 8 · the cost
  // The satellite kernel keeps 5 weights per token: time and memory grow like n (double n, double the cost),
  // against n² for dense attention. We time forward + backward of `star_attention` and of `dense_attention` at
  // B = 1, H = 2, d = 64 (memory: bytes allocated by tensors above the inputs, exact).
  // %%
  L.step("Step 8 · the cost: star kernel vs full attention (forward + backward)");
  const lesson::CostResult cost = lesson::cost_step(
      L, {lesson::Curve("star").expect(1.0, 1.0), lesson::Curve("full").expect(2.0, 2.0)},
      lesson::CostOptions()
          .heads(2)
          .title("star vs full attention")
          .figure("cost.png", "log-log cost curves — star's lines have slope 1 (linear), full attention's slope 2 "
                              "(quadratic); the gap widens with every doubling of n"));
  const attention::Scaling& star_cost = cost.fit("star");
  const attention::Scaling& full_cost = cost.fit("full");

  // %% [markdown]
  // ## Step 9 · what the paper reported, and what we measured
  // Guo et al. 2019 (their numbers, not ours): over 22 datasets in four tasks (among them text classification,
  // natural language inference and sequence labelling), Star-Transformer improved significantly on the standard
  // Transformer for modestly sized datasets (the abstract) — e.g. 53.0 % accuracy on SST-5 and 86.0 % on SNLI as a
  // sentence encoder without cross-sentence attention (from the paper's SST and SNLI result tables, as Papers with
  // Code lists them) — and ran faster than the Transformer at inference, with a gap that grows
  // with the sequence length. The paper's explanation: the ring gives a local-composition prior (as a CNN or
  // RNN would), so the model needs less data than full attention.
  // What this lesson measured: one Star layer connects all 16 × 16 token pairs while a radius-1 window
  // connects 46; and the table above — star memory doubling and full memory quadrupling per doubling of n.
  // %%
  L.step("Step 9 · the paper's results (Guo et al. 2019) and ours");
  L.say("paper: SST-5 accuracy 53.0, SNLI accuracy 86.0 (sentence encoder; its SST and SNLI tables); better than the");
  L.say("       Transformer on modestly sized datasets (abstract: 22 datasets, 4 tasks) and faster at inference.");
  L.say("ours:  one layer reaches all ", rn * rn, " (i, j) pairs; at n = ", star_cost.n.back(), " the star kernel used ",
        lesson::fixed(star_cost.mib.back(), 2), " MiB vs ", lesson::fixed(full_cost.mib.back(), 1),
        " MiB for full attention");

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, find the fewest window layers of radius 1 that connect output 0 to input 15.
  //    How does that grow with n? (A Star layer needs one, for every n.)
  // 2. Replace the ring by zero padding in `satellite_from_ops` (pad k_h and v_h with a zero row): which check
  //    fails, and why does token 0 now behave differently from token 3?
  // 3. The relay is a bottleneck: everything non-local must pass through one d-sized vector per head. Set
  //    cycles=2 in `lc.set` and compare the off-band gradients of receptive_field.png with cycles=1.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}

// %% [markdown]
// # Build your own attention: a window + strided pattern, from rule to registered scheme
//
// Every sparse scheme of the course is a rule (may query i look at key j?) and a kernel that computes only the
// pairs the rule allows. In this guided exercise you build one yourself, the way the course's schemes are
// built, in five steps:
//
// 1. the rule: a local window |i - j| < w, plus every s-th key (i - j divisible by s), the "strided" pattern of
//    the Sparse Transformer (Child et al. 2019, Generating Long Sequences with Sparse Transformers). With
//    s ≈ √n each query sees about 2w + 2√n keys, so the cost is O(n √n) instead of O(n²);
// 2. a kernel that visits only those keys: a forward loop and its hand-written backward;
// 3. an `attention::Scheme` subclass, registered by name, so that the CLI's machinery, the transformer block and
//    this notebook can use it like any built-in scheme;
// 4. the proof: the same output and the same gradients as dense attention with the same mask;
// 5. a picture and a benchmark against full attention.
//
// The rule sits in the marked EXERCISE block: change it, rebuild, rerun, and the self-checks tell you whether
// your kernel still matches the reference. Legend: B = batch, H = heads, n = sequence length, d = head size;
// q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "attention/dense.h"
#include "attention/figure.h"
#include "attention/scheme.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using attention::Config;
using core::IntTensor;
using core::Shape;
using core::Tensor;
namespace img = plot;

// %% [markdown]
// ## Step 1 · the rule
// `may_attend(i, j, window, stride)` is the whole pattern. The kernel below never looks at a pair it returns
// false for; the dense reference masks those pairs with -∞. Causal attention adds j ≤ i on top.
// %%
// EXERCISE ---------------------------------------------------------------------------------------------------
// The pattern. Try, then rebuild and rerun (the self-checks in Step 4 must still pass):
//   return dist < window || j < 2 || i < 2;          (a window plus two global tokens, as in Longformer)
//   return dist < window || j % stride == stride - 1; (the "fixed" pattern: the last key of every block)
//   return dist < window;                              (the window alone: look at the picture, then the cost)
bool may_attend(int64_t i, int64_t j, int64_t window, int64_t stride) {
  const int64_t dist = i > j ? i - j : j - i;
  return dist < window || dist % stride == 0;
}
// The settings, with their defaults: `--set window=.. stride=..`.
struct WindowStridedOptions {
  int64_t window = 4;  // w
  int64_t stride = 0;  // s; 0 = auto: ceil(sqrt(n))
};
// END EXERCISE -----------------------------------------------------------------------------------------------

// Which keys each query sees, as one list per query (compressed rows): the keys of query i are
// keys[start[i] .. start[i+1]), in increasing order. Built once per (n, window, stride, causal) by asking the
// rule about all n² pairs — a real kernel would enumerate the pattern directly, but this way the rule stays one
// function that you can change.
struct KeyLists {
  int64_t n = 0, stride = 1, max_keys = 0;
  std::vector<int64_t> start, keys;
};

int64_t auto_stride(int64_t n) { return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(double(n))))); }

std::shared_ptr<const KeyLists> key_lists(int64_t n, int64_t window, int64_t stride, bool causal) {
  static std::map<std::tuple<int64_t, int64_t, int64_t, bool>, std::shared_ptr<const KeyLists>> cache;
  const auto key = std::make_tuple(n, window, stride, causal);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto lists = std::make_shared<KeyLists>();
  lists->n = n;
  lists->stride = stride > 0 ? stride : auto_stride(n);
  lists->start.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      if ((!causal || j <= i) && may_attend(i, j, window, lists->stride)) lists->keys.push_back(j);
    lists->start.push_back(static_cast<int64_t>(lists->keys.size()));
    lists->max_keys = std::max(lists->max_keys, lists->start[i + 1] - lists->start[i]);
  }
  cache[key] = lists;
  return lists;
}

// %% [markdown]
// ## Step 2 · the kernel
// For each query i and its keys j₁ … j_K (from the lists):
//
//     s_t = q_i · k_{j_t} / √d         p = softmax(s)         out_i = Σ_t p_t v_{j_t}
//
// The forward pass keeps only p: (B, H, n, K_max) numbers, not n × n.
// %%
// out: (B, H, n, d); *probs_out: (B, H, n, K_max), entry t of row i is the weight of key keys[start[i] + t].
Tensor window_strided_forward(const Tensor& q, const Tensor& k, const Tensor& v, const KeyLists& lists,
                              Tensor* probs_out) {
  const int64_t BH = q.size(0) * q.size(1), n = q.size(2), d = q.size(3), K = std::max<int64_t>(1, lists.max_keys);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Tensor out = Tensor::zeros(q.shape());                        // (B, H, n, d)
  Tensor probs = Tensor::zeros({q.size(0), q.size(1), n, K});   // (B, H, n, K)
  const float *Q = q.data(), *Kd = k.data(), *V = v.data();
  float *O = out.data(), *P = probs.data();
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < BH * n; ++row) {
    const int64_t bh = row / n, i = row % n;
    const int64_t first = lists.start[i], count = lists.start[i + 1] - first;
    if (count == 0) continue;  // a query that may see nothing attends to nothing: out_i = 0
    const float* qi = Q + row * d;
    float* p = P + row * K;
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < count; ++t) {  // s_t = q_i · k_j / √d
      const float* kj = Kd + (bh * n + lists.keys[first + t]) * d;
      float s = 0.0f;
      for (int64_t c = 0; c < d; ++c) s += qi[c] * kj[c];
      p[t] = s * scale;
      top = std::max(top, p[t]);
    }
    float total = 0.0f;
    for (int64_t t = 0; t < count; ++t) total += (p[t] = std::exp(p[t] - top));
    float* oi = O + row * d;
    for (int64_t t = 0; t < count; ++t) {  // out_i = Σ_t p_t v_j
      p[t] /= total;
      const float* vj = V + (bh * n + lists.keys[first + t]) * d;
      for (int64_t c = 0; c < d; ++c) oi[c] += p[t] * vj[c];
    }
  }
  *probs_out = probs;
  return out;
}

// %% [markdown]
// **The backward pass** is the chain rule through the same three lines, in reverse (each line quotes the forward
// line it differentiates):
//
//     dp_t  = dout_i · v_{j_t},   dv_{j_t} += p_t dout_i
//     ds_t  = p_t (dp_t - Σ_u p_u dp_u)
//     dq_i += ds_t k_{j_t} / √d,  dk_{j_t} += ds_t q_i / √d
//
// It reads q, k, v, the saved p and dout, and visits the same pairs as the forward pass. `core::record`
// attaches it to the output, so autograd calls it like any built-in op's.
// %%
// ctx.inputs = {q, k, v}: (B, H, n, d); ctx.saved = {probs}: (B, H, n, K_max); ctx.grad_out: (B, H, n, d).
void window_strided_backward(core::BackwardContext& ctx, const KeyLists& lists) {
  const Tensor &q = ctx.inputs[0], &k = ctx.inputs[1], &v = ctx.inputs[2], &probs = ctx.saved[0];
  const int64_t BH = q.size(0) * q.size(1), n = q.size(2), d = q.size(3), K = probs.size(3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Tensor dq = Tensor::zeros(q.shape()), dk = Tensor::zeros(k.shape()), dv = Tensor::zeros(v.shape());
  std::vector<float> dp(static_cast<size_t>(K));
  for (int64_t row = 0; row < BH * n; ++row) {
    const int64_t bh = row / n, i = row % n;
    const int64_t first = lists.start[i], count = lists.start[i + 1] - first;
    const float* p = probs.data() + row * K;
    const float* dout = ctx.grad_out.data() + row * d;
    float dot = 0.0f;  // Σ_u p_u dp_u
    for (int64_t t = 0; t < count; ++t) {
      const int64_t j = bh * n + lists.keys[first + t];
      float s = 0.0f;
      for (int64_t c = 0; c < d; ++c) {
        s += dout[c] * v.data()[j * d + c];           // forward: out_i += p_t v_j  =>  dp_t = dout_i · v_j
        dv.data()[j * d + c] += p[t] * dout[c];       //                               dv_j += p_t dout_i
      }
      dp[static_cast<size_t>(t)] = s;
      dot += p[t] * s;
    }
    for (int64_t t = 0; t < count; ++t) {
      const int64_t j = bh * n + lists.keys[first + t];
      const float ds = p[t] * (dp[static_cast<size_t>(t)] - dot) * scale;  // softmax, then s = scale q·k
      for (int64_t c = 0; c < d; ++c) {
        dq.data()[row * d + c] += ds * k.data()[j * d + c];  // forward: s_t = q_i · k_j  =>  dq_i += ds k_j
        dk.data()[j * d + c] += ds * q.data()[row * d + c];  //                                dk_j += ds q_i
      }
    }
  }
  if (ctx.needs_grad(0)) ctx.add_grad(0, dq);
  if (ctx.needs_grad(1)) ctx.add_grad(1, dk);
  if (ctx.needs_grad(2)) ctx.add_grad(2, dv);
}

// The kernel: out (B, H, n, d), with the backward recorded; probs_out, if given, receives p (B, H, n, K_max).
Tensor window_strided_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                const std::shared_ptr<const KeyLists>& lists, Tensor* probs_out = nullptr) {
  Tensor probs;                                                         // (B, H, n, K_max)
  Tensor out = window_strided_forward(q, k, v, *lists, &probs);        // (B, H, n, d)
  if (probs_out) *probs_out = probs;
  return core::record(
      out, "window_strided_attention", {q, k, v},
      [lists](core::BackwardContext& ctx) { window_strided_backward(ctx, *lists); }, {probs});
}

// %% [markdown]
// ## Step 3 · a scheme: a name, settings, and the three levels
// `attention::Scheme` is the interface every scheme of the course implements (attention/scheme.h): a
// description (`SchemeInfo`: the name, the paper, where it sits in the survey's taxonomy, its presets), settings
// declared once in a table (`attention::ParamTable`: key, member, range, help — the parser and `attnzoo list`'s
// text both come from it), and three levels — the kernel, the effective attention matrix (for pictures and tests:
// kernel == A v) and the 0/1 pattern. The fourth piece, a layer with projections, comes for free from the base
// class (`ProjectedAttention`).
// %%
const attention::ParamTable<WindowStridedOptions>& window_strided_params() {
  using O = WindowStridedOptions;
  static const auto table =
      attention::ParamTable<O>("window_strided")
          .integer("window", &O::window, 0, attention::kNoLimit, "w: keys with |i - j| < w are always visible")
          .integer_or_auto("stride", &O::stride, 1, attention::kNoLimit,
                           "s: every s-th key (i - j divisible by s) is visible; auto = ceil(sqrt(n))");
  return table;
}

attention::SchemeInfo window_strided_info() {
  attention::SchemeInfo i;
  i.name = "window_strided";
  i.summary = "built in notebooks_cpp/build_your_own_attention.cpp: a window |i-j| < w plus every s-th key, O(n sqrt n)";
  i.paper = "Child et al. 2019 (strided pattern), rebuilt in a notebook";
  i.lecture = 3;
  i.use(window_strided_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {attention::Family::FP, attention::Family::CP};
  i.exactness = attention::Exactness::on_pattern;
  i.time_growth = "n·√n";
  i.memory_exponent = 1.5;
  i.idea = "a window united with a stride";
  return i;
}

// %% [markdown]
// **The three levels.** The class reads the settings into key lists (built once per n, window, stride and causal
// flag), then implements each level on them: `kernel` runs the kernel of step 2; `effective_attention` runs the
// same kernel, keeps its weights p and scatters each row into an n × n matrix, so that kernel == A v; `pattern`
// writes a 1 for every pair in the lists. Inputs are checked with the library's own `check_qkv` and `AZ_CHECK`,
// whose errors name the scheme and the shapes; a key-padding mask is refused (supporting it is an exercise).
// %%
class WindowStridedScheme : public attention::Scheme {
 public:
  WindowStridedScheme() : Scheme(window_strided_info()) {}

  std::shared_ptr<const KeyLists> lists(int64_t n, const Config& cfg) const {
    const WindowStridedOptions o = window_strided_params().read(cfg.settings);
    AZ_CHECK(!cfg.key_padding_mask.defined(), name(), ": key_padding_mask is not supported (an exercise for you)");
    return key_lists(n, o.window, o.stride, cfg.causal);
  }

  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, name());
    AZ_CHECK(q.size(2) == k.size(2), name(), ": needs as many keys as queries, got q ", q.shape(), " k ", k.shape());
    return window_strided_attention(q, k, v, lists(q.size(2), cfg));
  }

  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, name());
    core::NoGradGuard no_grad;
    const auto l = lists(q.size(2), cfg);
    Tensor probs;
    window_strided_attention(q, k, v, l, &probs);  // (B, H, n, K)
    const int64_t BH = q.size(0) * q.size(1), n = q.size(2), K = probs.size(3);
    Tensor A = Tensor::zeros({q.size(0), q.size(1), n, n});  // scatter each row's weights to their keys
    for (int64_t row = 0; row < BH * n; ++row) {
      const int64_t i = row % n;
      for (int64_t t = 0; t < l->start[i + 1] - l->start[i]; ++t)
        A.data()[row * n + l->keys[l->start[i] + t]] = probs.data()[row * K + t];
    }
    return A;
  }

  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, name(), ": pattern needs a (B, H, n, d) shape, got ", q_shape);
    const int64_t BH = q_shape[0] * q_shape[1], n = q_shape[2];
    const auto l = lists(n, cfg);
    Tensor P = Tensor::zeros({q_shape[0], q_shape[1], n, n});
    for (int64_t row = 0; row < BH * n; ++row) {
      const int64_t i = row % n;
      for (int64_t t = l->start[i]; t < l->start[i + 1]; ++t) P.data()[row * n + l->keys[t]] = 1.0f;
    }
    return P;
  }
};

// %%
int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "build_your_own_attention");

  // %% [markdown]
  // ## Step 4 · register it, and check it against dense attention
  // One call puts the scheme in the registry; from then on `attention::find_scheme("window_strided")` finds it,
  // like `attnzoo show` or the transformer block would. Then the proof, on random q, k, v (two heads, n = 40, not
  // a multiple of the stride) and a random upstream gradient g, with and without the causal mask:
  // out, dq, dk and dv must equal those of dense attention masked with our own `pattern`, that is
  // softmax(q kᵀ/√d with -∞ where the pattern is 0) v: `lesson::masked_dense_attention` (lessons/reference.h), the
  // reference every sparse lesson uses. `lesson::kernel_vs_reference` runs both on fresh copies of q, k, v and
  // backpropagates g through each.
  // %%
  L.step("Step 4 · register the scheme and check it against dense attention");
  attention::register_scheme(std::make_unique<WindowStridedScheme>());
  const attention::Scheme& mine = attention::find_scheme("window_strided");
  L.say("registered '", mine.name(), "': ", mine.summary());
  L.check("the registry finds the new scheme among all schemes", [&] {
    for (const attention::Scheme* s : attention::all_schemes())
      if (s == &mine) return true;
    return false;
  }());
  {
    core::Rng rng = L.rng(1);
    const int64_t B = 1, H = 2, n = 40, d = 8;
    const Tensor q0 = core::randn({B, H, n, d}, rng), k0 = core::randn({B, H, n, d}, rng),
                 v0 = core::randn({B, H, n, d}, rng), g = core::randn({B, H, n, d}, rng);
    for (const bool causal : {false, true}) {
      const Config cfg = mine.configure({}, causal, L.seed());
      const Tensor pattern = mine.pattern(q0.shape(), cfg);  // (B, H, n, n): 1 = may look
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) { return mine.kernel(x[0], x[1], x[2], cfg); },
          [&](const std::vector<Tensor>& x) { return lesson::masked_dense_attention(x[0], x[1], x[2], pattern); },
          {q0, k0, v0}, g);
      const std::string what = causal ? "causal" : "full";
      L.check_close(what + ": output equals masked dense attention", c.out, c.ref_out, 1e-5f);
      const char* names[] = {"dq", "dk", "dv"};
      for (int i = 0; i < 3; ++i)
        L.check_close(what + ": " + names[i] + " equals masked dense attention's", c.grads[i], c.ref_grads[i], 1e-5f);
      L.check_close(what + ": kernel == effective_attention @ v", c.out,
                    core::matmul(mine.effective_attention(q0, k0, v0, cfg), v0), 1e-5f);
    }
    // Finite differences, independent of any reference: a tiny case.
    const Tensor tq = core::randn({1, 1, 9, 4}, rng), tk = core::randn({1, 1, 9, 4}, rng), tv = core::randn({1, 1, 9, 4}, rng);
    const Config tiny = mine.configure({"window=2", "stride=3"}, false, L.seed());
    const core::GradcheckResult gc = core::gradcheck(
        [&](const std::vector<Tensor>& x) { return mine.kernel(x[0], x[1], x[2], tiny); }, {tq, tk, tv},
        {"window_strided", 1e-2f, 2e-3, 2e-2, 7});
    L.check("gradcheck: the hand-written backward matches finite differences", gc.ok,
            gc.ok ? std::to_string(gc.checked) + " inputs, max |diff| " + lesson::sig(gc.max_abs_diff, 2) : gc.message);
  }

  // %% [markdown]
  // ## Step 5 · it works inside a layer
  // The base class gives every scheme a layer with its own projections (x → Q, K, V → kernel → output), which
  // is what the transformer block and the Long Range Arena tasks use. Our hand-written backward carries the
  // gradient through to the projection weights.
  // %%
  L.step("Step 5 · the scheme inside a layer");
  {
    core::Rng rng = L.rng(2);
    attention::LayerConfig lc;
    lc.d_model = 32;
    lc.n_heads = 4;
    lc.max_len = 64;
    std::unique_ptr<attention::AttentionLayer> layer = mine.make_layer(lc, rng);
    const Tensor x = core::randn({2, 64, 32}, rng);  // (B, n, d_model)
    const Tensor y = layer->forward(x);              // (B, n, d_model)
    core::sum(y * y).backward();
    bool all_grads = true;
    for (const Tensor& p : layer->parameters()) all_grads = all_grads && p.grad().defined();
    L.say("layer: x ", x.shape(), " -> y ", y.shape(), ", ", layer->parameters().size(), " parameter tensors");
    L.check("the layer's output has the input's shape and every parameter gets a gradient",
            y.shape() == x.shape() && all_grads);
  }

  // %% [markdown]
  // ## Step 6 · the picture
  // The effective attention (the weights) and the pattern (which pairs exist) at n = 64 with the default
  // settings, drawn by the same function as `attnzoo show` and the gallery: a band of width 2w - 1 around the diagonal, and lines parallel to it every s positions.
  // %%
  L.step("Step 6 · the pattern and the weights");
  {
    const int64_t n = 64, d = 16;
    core::Rng rng = L.rng(3);
    const Tensor q = core::randn({1, 1, n, d}, rng), k = core::randn({1, 1, n, d}, rng), v = core::randn({1, 1, n, d}, rng);
    const Config cfg = mine.configure({}, false, L.seed());
    // Drawn exactly as `attnzoo show` and the gallery draw every registered scheme (attention/figure.h).
    attention::FigureOptions fo;
    fo.subtitle = "random q, k, v ~ N(0,1), defaults";
    const attention::SchemeFigure fig = attention::draw_scheme(mine, cfg, q, k, v, fo);
    const Tensor& P = fig.P;  // (1, 1, n, n): 1 = the pair is computed
    int64_t allowed = 0;
    for (int64_t i = 0; i < n * n; ++i) allowed += P.data()[i] != 0.0f;
    L.say("n = ", n, ", stride s = ceil(sqrt(n)) = ", auto_stride(n), ", window w = ", WindowStridedOptions{}.window, ": ", allowed,
          " of ", n * n, " pairs (", lesson::fixed(100.0 * allowed / double(n * n), 1), " %)");
    L.show(fig.image,
           "pattern.png",
           lesson::str("left: the weights the kernel gives (zero outside the pattern); right: the pairs the rule "
                       "lets through — with the default rule a band of 2w-1 = ", 2 * WindowStridedOptions{}.window - 1,
                       " keys around the diagonal plus lines every s = ", auto_stride(n), " positions parallel to it"));
  }

  // %% [markdown]
  // ## Step 7 · what it costs
  // Time and peak memory of the forward pass (B = 1, H = 1, d = 64) next to `attention::dense_attention`. Full
  // attention keeps two n × n matrices; ours keeps K_max ≈ 2w + n/s weights per query, with s = √n that is
  // O(n √n): at most 2√2 ≈ 2.8× per doubling of n instead of 4×. Time is measured (it varies between runs),
  // memory is exact; the check asks for a memory exponent between 1 and 1.6 (the n·d terms pull it below 1.5). Our loops are plain C++ while the dense reference runs on OpenBLAS, so at small n dense
  // can be faster.
  // %%
  L.step("Step 7 · cost against full attention");
  {
    const int64_t n_max = L.quick() ? 2048 : 4096;
    // The same call as every lesson's cost step (lessons/cost.h): our scheme is registered, so it is one more name.
    lesson::cost_step(
        L,
        {lesson::Curve("full").forward_only().expect(2.0),
         lesson::Curve("window_strided").forward_only().memory_between(1.0, 1.6)},
        lesson::CostOptions()
            .sizes(L.quick() ? 512 : 256, n_max)
            .title("window_strided vs full attention, forward")
            .figure("cost.png",
                    "time and peak memory vs n, log-log — full attention's memory rises with slope 2 (n²), ours with "
                    "slope about 1.5 (n sqrt n) or less; the time curves cross where the skipped pairs outweigh "
                    "BLAS's head start"));
    const Config cfg = mine.configure({}, false, L.seed());
    std::string k_max;
    for (int64_t n = L.quick() ? 512 : 256; n <= n_max; n *= 2)
      k_max += (k_max.empty() ? "" : ", ") + std::to_string(static_cast<const WindowStridedScheme&>(mine).lists(n, cfg)->max_keys) +
               " at n = " + std::to_string(n);
    L.say("K_max, the most keys a query reads: ", k_max, " (about 2w + n/s, s = sqrt(n)).");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Change the rule in the EXERCISE block to a window plus two global tokens. Which check would fail if the
  //    kernel skipped a pair the pattern allows? Try it: make the kernel's loop stop one key early.
  // 2. Set the default stride to "16". How do K_max and the memory column change with n now, and why is a fixed
  //    stride O(n²) again?
  // 3. Run `make notebooks` and open out/notebooks/build_your_own_attention.ipynb: the pictures are inline.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}

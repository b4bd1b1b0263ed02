// attention/synthesizer.cpp — synthetic attention logits (dense, random, factorised, mixture) and the registered
// scheme "synthesizer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, D = d_model, L = max_len, e = hidden per head.
// Everything here composes core ops: the scheme's cost is O(n²) whatever we do (see synthesizer.h), so a fused
// kernel would buy nothing asymptotically.
#include "attention/synthesizer.h"

#include <cmath>
#include <limits>

#include "attention/dense.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"
#include "core/random.h"

namespace attention {

using namespace core;

// ---- settings -----------------------------------------------------------------------------------------------
std::string synthesizer_mode_name(SynthesizerMode mode) {
  switch (mode) {
    case SynthesizerMode::dense: return "dense";
    case SynthesizerMode::random: return "random";
    case SynthesizerMode::factorized_random: return "factorized_random";
    case SynthesizerMode::factorized_dense: return "factorized_dense";
    case SynthesizerMode::mixture: return "mixture";
  }
  return "?";
}

bool SynthesizerOptions::reads_tokens() const {
  const SynthesizerMode b = base();
  return b == SynthesizerMode::dense || b == SynthesizerMode::factorized_dense;
}

const ParamTable<SynthesizerOptions>& synthesizer_params() {
  using O = SynthesizerOptions;
  using M = SynthesizerMode;
  const std::vector<std::pair<std::string, M>> modes = {{"dense", M::dense},
                                                        {"random", M::random},
                                                        {"factorized_random", M::factorized_random},
                                                        {"factorized_dense", M::factorized_dense},
                                                        {"mixture", M::mixture}};
  static const auto table =
      ParamTable<O>("synthesizer")
          .choice("mode", &O::mode, modes, "the synthesizer; mixture = the one named by mix, added to QKᵀ/√d")
          .integer("k", &O::k, 1, 1 << 16,
                   "factorized modes: rank of R = R1 R2ᵀ (factorized_random); size a of the first factor, b = "
                   "ceil(n/a) (factorized_dense)")
          .flag("trainable", &O::trainable,
                "layer, random modes: learn R (true) or keep its random initialisation fixed (false: 'fixed random')")
          .choice("mix", &O::mix, modes, "mixture: the synthetic part added to QKᵀ/√d (any mode but mixture)")
          .rule([](const std::string& scheme, const O& o) {
            AZ_CHECK(o.mix != M::mixture, scheme, ": setting mix=mixture: the synthetic part of a mixture is one of "
                     "dense, random, factorized_random, factorized_dense");
          });
  return table;
}

SynthesizerOptions synthesizer_options(const Settings& s) { return synthesizer_params().read(s); }

// ---- parameters ---------------------------------------------------------------------------------------------
int64_t factorized_dense_a(int64_t L, int64_t k) { return std::min(k, L); }
int64_t factorized_dense_b(int64_t L, int64_t k) {
  const int64_t a = factorized_dense_a(L, k);
  return (L + a - 1) / a;
}

SynthesizerParams init_synthesizer_params(SynthesizerMode mode, int64_t H, int64_t L, int64_t e, int64_t k,
                                          Rng& rng) {
  AZ_CHECK(H >= 1 && L >= 1 && e >= 1 && k >= 1, "synthesizer: parameters need H, L, e, k >= 1, got H=", H, " L=", L,
           " e=", e, " k=", k);
  SynthesizerParams p;
  const float bound = 1.0f / std::sqrt(static_cast<float>(e));
  switch (mode) {
    case SynthesizerMode::random:
      p.R = randn({H, L, L}, rng);  // (H, L, L)
      break;
    case SynthesizerMode::factorized_random: {
      const float sigma = std::pow(static_cast<float>(k), -0.25f);  // Var(Σ_k r1 r2) = k σ⁴ = 1
      p.R1 = randn({H, L, k}, rng, 0.0f, sigma);                   // (H, L, k)
      p.R2 = randn({H, L, k}, rng, 0.0f, sigma);
      break;
    }
    case SynthesizerMode::dense:
      p.W2 = rand_uniform({H, e, L}, rng, -bound, bound);  // (H, e, L)
      p.b2 = rand_uniform({H, 1, L}, rng, -bound, bound);  // (H, 1, L)
      break;
    case SynthesizerMode::factorized_dense: {
      const int64_t a = factorized_dense_a(L, k), b = factorized_dense_b(L, k);
      p.Wa = rand_uniform({H, e, a}, rng, -bound, bound);
      p.ba = rand_uniform({H, 1, a}, rng, -bound, bound);
      p.Wb = rand_uniform({H, e, b}, rng, -bound, bound);
      p.bb = rand_uniform({H, 1, b}, rng, -bound, bound);
      break;
    }
    case SynthesizerMode::mixture:
      AZ_FAIL("synthesizer: init_synthesizer_params wants the synthetic part of a mixture, not mixture itself");
  }
  return p;
}

// ---- the logits ---------------------------------------------------------------------------------------------
namespace {
void check_length(int64_t n, int64_t L, const char* what) {
  AZ_CHECK(n >= 1 && n <= L, "synthesizer: sequence length n=", n, " exceeds max_len=", L, " (", what,
           " has a fixed size; shorter sequences use its top-left block)");
}
}  // namespace

Tensor random_synthesizer_logits(const Tensor& R, int64_t n) {
  AZ_CHECK(R.defined() && R.dim() == 3 && R.size(1) == R.size(2), "synthesizer: R must be (H, L, L), got ",
           R.defined() ? R.shape() : Shape{});
  check_length(n, R.size(1), "R");
  if (n == R.size(1)) return unsqueeze(R, 0);  // the whole of R: no copy (two slices copied H·n² floats twice)
  return unsqueeze(slice(slice(R, 1, 0, n), 2, 0, n), 0);  // (1, H, n, n): the top-left block
}

Tensor factorized_random_logits(const Tensor& R1, const Tensor& R2, int64_t n) {
  AZ_CHECK(R1.defined() && R2.defined() && R1.dim() == 3 && R1.shape() == R2.shape(),
           "synthesizer: R1 and R2 must both be (H, L, k), got ", R1.defined() ? R1.shape() : Shape{}, " and ",
           R2.defined() ? R2.shape() : Shape{});
  check_length(n, R1.size(1), "R1, R2");
  const Tensor r1 = slice(R1, 1, 0, n), r2 = slice(R2, 1, 0, n);  // (H, n, k)
  return unsqueeze(matmul(r1, r2, false, true), 0);                // (H, n, k) @ (H, n, k)ᵀ -> (1, H, n, n)
}

Tensor dense_synthesizer_logits(const Tensor& hidden, const Tensor& W2, const Tensor& b2, int64_t n) {
  AZ_CHECK(hidden.defined() && hidden.dim() == 4 && hidden.size(2) == n, "synthesizer: hidden must be (B, H, n=", n,
           ", e), got ", hidden.defined() ? hidden.shape() : Shape{});
  const int64_t H = hidden.size(1), e = hidden.size(3);
  AZ_CHECK(W2.defined() && W2.dim() == 3 && W2.size(0) == H && W2.size(1) == e, "synthesizer: W2 must be (H=", H,
           ", e=", e, ", L), got ", W2.defined() ? W2.shape() : Shape{});
  check_length(n, W2.size(2), "W2");
  // Bᵢ = hᵢ W₂ + b₂ per head: only the first n of the L outputs (the top-left block)
  return matmul(hidden, slice(W2, 2, 0, n)) + slice(b2, 2, 0, n);  // (B,H,n,e) @ (H,e,n) -> (B,H,n,n)
}

Tensor factorized_dense_logits(const Tensor& hidden, const Tensor& Wa, const Tensor& ba, const Tensor& Wb,
                               const Tensor& bb, int64_t n) {
  AZ_CHECK(hidden.defined() && hidden.dim() == 4 && hidden.size(2) == n, "synthesizer: hidden must be (B, H, n=", n,
           ", e), got ", hidden.defined() ? hidden.shape() : Shape{});
  AZ_CHECK(Wa.defined() && Wb.defined() && Wa.dim() == 3 && Wb.dim() == 3,
           "synthesizer: Wa, Wb must be (H, e, a) and (H, e, b)");
  const int64_t a = Wa.size(2), b = Wb.size(2);
  AZ_CHECK(n <= a * b, "synthesizer: sequence length n=", n, " exceeds max_len (factorized_dense covers a*b = ", a * b,
           " positions)");
  const Tensor A = matmul(hidden, Wa) + ba;   // (B, H, n, a)
  const Tensor Bf = matmul(hidden, Wb) + bb;  // (B, H, n, b)
  // H_A tiles A: column j reads A[j mod a]; H_B repeats each entry of B a times: column j reads B[j div a].
  IntTensor tile({n}), repeat({n});
  for (int64_t j = 0; j < n; ++j) {
    tile.data[static_cast<size_t>(j)] = j % a;
    repeat.data[static_cast<size_t>(j)] = j / a;
  }
  return index_select(A, 3, tile) * index_select(Bf, 3, repeat);  // (B, H, n, n)
}

Tensor synthesizer_logits(SynthesizerMode mode, const SynthesizerParams& p, const Tensor& hidden, int64_t n) {
  switch (mode) {
    case SynthesizerMode::random: return random_synthesizer_logits(p.R, n);
    case SynthesizerMode::factorized_random: return factorized_random_logits(p.R1, p.R2, n);
    case SynthesizerMode::dense: return dense_synthesizer_logits(hidden, p.W2, p.b2, n);
    case SynthesizerMode::factorized_dense: return factorized_dense_logits(hidden, p.Wa, p.ba, p.Wb, p.bb, n);
    case SynthesizerMode::mixture: break;
  }
  AZ_FAIL("synthesizer: synthesizer_logits wants the synthetic part of a mixture, not mixture itself");
}

Tensor synthesizer_probabilities(const Tensor& logits, bool causal, const Tensor& pad) {
  AZ_CHECK(logits.dim() == 4 && logits.size(2) == logits.size(3), "synthesizer: logits must be (B, H, n, n), got ",
           logits.shape());
  if (!causal && !pad.defined()) return softmax(logits, -1);
  const int64_t n = logits.size(2);
  const int64_t batch = pad.defined() ? pad.size(0) : 1;
  // 0 where query i may look at key j, -inf where not: added to B ("add the triangular mask to B").
  Tensor blocked = blocked_mask(batch, n, n, {causal, pad});  // (B or 1, 1, n, n), 1 = blocked
  Tensor additive = Tensor::empty(blocked.shape());
  const float* pb = blocked.data();
  float* pa = additive.data();
  for (int64_t i = 0, count = blocked.numel(); i < count; ++i)
    pa[i] = pb[i] != 0.0f ? -std::numeric_limits<float>::infinity() : 0.0f;
  return softmax(logits + additive, -1);  // a fully masked row gives zeros
}

// ---- the kernel on q, k, v ----------------------------------------------------------------------------------
namespace {

Tensor kernel_logits(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) {
  Scheme::check_qkv(q, k, v, "synthesizer");
  AZ_CHECK(k.size(2) == q.size(2), "synthesizer: the synthesized matrix is n x n, so q and k need the same n; got q ",
           q.shape(), " and k ", k.shape());
  const SynthesizerOptions o = synthesizer_options(cfg.settings);
  const int64_t H = q.size(1), n = q.size(2), d = q.size(3);
  Rng rng(cfg.seed);
  Tensor hidden;
  if (o.reads_tokens()) {
    // A per-head first layer that reads qᵢ as the token: hidden = relu(q W₁ + b₁), (B, H, n, d)
    const float bound = 1.0f / std::sqrt(static_cast<float>(d));
    const Tensor W1 = rand_uniform({H, d, d}, rng, -bound, bound), b1 = rand_uniform({H, 1, d}, rng, -bound, bound);
    hidden = relu(matmul(q, W1) + b1);
  }
  const SynthesizerParams p = init_synthesizer_params(o.base(), H, n, d, o.k, rng);
  Tensor logits = synthesizer_logits(o.base(), p, hidden, n);
  if (o.mode == SynthesizerMode::mixture) logits = logits + dense_scores(q, k);  // + q kᵀ/√d
  return logits;
}

}  // namespace

Tensor synthesizer_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) {
  const Tensor A = synthesizer_probabilities(kernel_logits(q, k, v, cfg), cfg.causal, cfg.key_padding_mask);
  return A.size(0) == q.size(0) ? A : expand(A, {q.size(0), q.size(1), q.size(2), q.size(2)});  // (B, H, n, n)
}

Tensor synthesizer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) {
  const Tensor A = synthesizer_probabilities(kernel_logits(q, k, v, cfg), cfg.causal, cfg.key_padding_mask);
  return matmul(A, v);  // (1 or B, H, n, n) @ (B, H, n, d) -> (B, H, n, d)
}

// ---- the layer ----------------------------------------------------------------------------------------------
SynthesizerLayer::SynthesizerLayer(const LayerConfig& cfg, const SynthesizerOptions& o, Rng& rng)
    : options(o),
      d_model(cfg.d_model),
      n_heads(cfg.n_heads),
      max_len(cfg.max_len),
      causal(cfg.causal),
      w_v(cfg.d_model, cfg.d_model, rng),
      w_o(cfg.d_model, cfg.d_model, rng) {
  check_heads(cfg, "synthesizer");
  AZ_CHECK(cfg.max_len >= 1, "synthesizer layer: max_len must be >= 1, got ", cfg.max_len);
  register_module("w_v", w_v);
  register_module("w_o", w_o);
  const int64_t e = d_model / n_heads;
  if (options.reads_tokens()) {
    w_1 = std::make_unique<nn::Linear>(d_model, d_model, rng);
    register_module("w_1", *w_1);
  }
  if (options.mode == SynthesizerMode::mixture) {
    w_q = std::make_unique<nn::Linear>(d_model, d_model, rng);
    w_k = std::make_unique<nn::Linear>(d_model, d_model, rng);
    register_module("w_q", *w_q);
    register_module("w_k", *w_k);
  }
  params = init_synthesizer_params(options.base(), n_heads, max_len, e, options.k, rng);
  const bool random_part =
      options.base() == SynthesizerMode::random || options.base() == SynthesizerMode::factorized_random;
  const std::pair<const char*, Tensor*> named[] = {{"R", &params.R},   {"R1", &params.R1}, {"R2", &params.R2},
                                                   {"W2", &params.W2}, {"b2", &params.b2}, {"Wa", &params.Wa},
                                                   {"ba", &params.ba}, {"Wb", &params.Wb}, {"bb", &params.bb}};
  // A fixed random matrix (trainable=false) is not trained, but it is the layer's state: a buffer, saved and
  // restored with the parameters. Otherwise every synthesizer tensor is a parameter.
  const bool fixed = random_part && !options.trainable;
  for (const auto& [name, t] : named) {
    if (!t->defined()) continue;
    if (fixed) {
      register_buffer(name, *t);
    } else {
      *t = register_parameter(name, *t);
    }
  }
}

Tensor SynthesizerLayer::logits(const Tensor& x) const {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, "synthesizer layer: x must be (B, n, ", d_model, "), got ", x.shape());
  const int64_t n = x.size(1);
  AZ_CHECK(n <= max_len, "synthesizer layer: sequence length n=", n, " exceeds max_len=", max_len,
           " (the synthesized parameters are max_len x max_len; shorter sequences use the top-left block)");
  Tensor hidden;
  // (B, n, D) -> relu -> (B, H, n, e): split_heads TRANSPOSES tokens and heads (a reshape would scramble them)
  if (options.reads_tokens()) hidden = split_heads(relu(w_1->forward(x)), n_heads);
  Tensor B = synthesizer_logits(options.base(), params, hidden, n);  // (1 or B, H, n, n)
  if (options.mode == SynthesizerMode::mixture)
    B = B + dense_scores(split_heads(w_q->forward(x), n_heads), split_heads(w_k->forward(x), n_heads));
  return B;
}

Tensor SynthesizerLayer::probabilities(const Tensor& x, const Tensor& pad) const {
  return synthesizer_probabilities(logits(x), causal, pad);
}

Tensor SynthesizerLayer::forward(const Tensor& x, const Tensor& pad) {
  const Tensor A = probabilities(x, pad);                      // (1 or B, H, n, n)
  const Tensor v = split_heads(w_v.forward(x), n_heads);       // (B, H, n, d): G(X)
  return w_o.forward(merge_heads(matmul(A, v)));               // (B, n, D)
}

Tensor SynthesizerLayer::attention_weights(const Tensor& x) {
  core::NoGradGuard no_grad;
  const Tensor A = probabilities(x);  // (1 or B, H, n, n)
  return expand(A, {x.size(0), A.size(1), A.size(2), A.size(3)});  // (B, H, n, n)
}

// ---- the registered scheme "synthesizer" --------------------------------------------------------------------
namespace {

SchemeInfo synthesizer_info() {
  SchemeInfo i;
  i.name = "synthesizer";
  i.summary =
      "Synthesizer: attention logits synthesized without token-token dot products (random: a learned n×n R per head; "
      "dense: row i from token i alone); still O(n²). run: parameters drawn from --seed at n = length of q (dense "
      "modes read q as the tokens; k is used only by mixture)";
  i.paper = "Tay et al. 2020, Synthesizer: Rethinking Self-Attention in Transformer Models";
  i.lecture = 7;
  i.use(synthesizer_params());
  i.causal = true;
  i.families = {Family::LR, Family::LP};  // the survey's Table 1 (it has no class of its own for synthetic attention)
  i.exactness = Exactness::approximate;
  i.nonsmooth = "the dense modes synthesize with W2 ReLU(W1 x)";
  i.time_growth = "n²";
  i.memory_exponent = 2;
  i.idea = "logits from a learned n x n table (or from each token alone), no q.k products";
  i.claim = {"Tay et al. 2020 (Table 2): the random Synthesizer, without token-token dot products, stays "
              "close to the Transformer (WMT'14 En-De BLEU 27.27 vs 27.67)",
             attention::ClaimTest::lm_matches_exact};
  i.lra_paper = {"Synthesizer", 36.99, 69.45, 52.88, 61.68, 54.67, 41.61};
  i.gallery_settings = {"mode=dense"};
  i.test_settings = {{"mode=dense"}, {"mode=factorized_random", "k=4"}, {"mode=mixture", "mix=factorized_dense", "k=3"}};
  return i;
}

class SynthesizerScheme : public Scheme {
 public:
  SynthesizerScheme() : Scheme(synthesizer_info()) {}

  // The n×n weights are applied to V either way (R V forward, Rᵀ dO backward: 4·n²·d); mixture also pays for
  // QKᵀ and its gradients, i.e. full attention's 12·n²·d.
  double flops(const Shape& q, const Config& cfg) const override {
    const double pairs = static_cast<double>(q[2]) * q[2];
    return cfg.settings.get("mode") == "mixture" ? attention_flops(q, pairs) : attention_flops(q, pairs) / 3.0;
  }
  // Beyond the inputs and outputs, the synthetic n×n weights of every head must be read at least once.
  double bytes(const Shape& q, const Config&) const override {
    return io_bytes(q) + 4.0 * static_cast<double>(q[1]) * static_cast<double>(q[2] * q[2]);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return synthesizer_attention(q, k, v, cfg);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return synthesizer_effective_attention(q, k, v, cfg);
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, Rng& rng) const override {
    const Config c = configure(cfg.set, cfg.causal, cfg.seed);
    return std::make_unique<SynthesizerLayer>(cfg, synthesizer_options(c.settings), rng);
  }
};

Registrar registrar(std::make_unique<SynthesizerScheme>());

}  // namespace

}  // namespace attention

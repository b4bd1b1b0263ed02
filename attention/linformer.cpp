// attention/linformer.cpp — the Linformer kernel (fused forward, hand-written backward), its effective attention,
// the layer with learned E and F, and the registry entry "linformer". See linformer.h for the equations.
//
// Legend: B = batch, H = heads, n = queries, m = keys (= n in self-attention), d = head size, k = projected length,
//         Hs = projection matrices (H or 1).
#include "attention/linformer.h"

#include <cmath>
#include <mutex>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace attention {

using namespace core;

const char* const kLinformerCausalRefusal =
    "E and F project the sequence dimension, so each projected key and value mixes all n positions, future tokens "
    "included, and every query would see the future";

// ---- settings -------------------------------------------------------------------------------------------------

const ParamTable<LinformerSettings>& linformer_params() {
  using O = LinformerSettings;
  static const auto table =
      ParamTable<O>("linformer")
          .integer("k", &O::k, 1, kNoLimit,
                   "projected length: E and F map the n positions onto k rows (paper: 128 or 256 for n = 512); "
                   "k <= max_len (for run: <= n)")
          .choice("share", &O::share,
                  {{"none", LinformerShare::none},
                   {"headwise", LinformerShare::headwise},
                   {"kv", LinformerShare::kv},
                   {"layerwise", LinformerShare::layerwise}},
                  "sharing of E, F: none (per head E_h, F_h) | headwise (one E, F for all heads) | kv (one E for "
                  "keys and values, all heads) | layerwise (kv, one E for every layer; run = kv)");
  return table;
}

LinformerShare parse_linformer_share(const std::string& value) {
  return linformer_params().read(Settings("linformer", linformer_params().hyperparams(), {"share=" + value})).share;
}

const char* linformer_share_name(LinformerShare share) {
  switch (share) {
    case LinformerShare::none: return "none";
    case LinformerShare::headwise: return "headwise";
    case LinformerShare::kv: return "kv";
    case LinformerShare::layerwise: return "layerwise";
  }
  return "?";
}

int64_t linformer_projection_heads(LinformerShare share, int64_t n_heads) {
  return share == LinformerShare::none ? n_heads : 1;
}

bool linformer_shares_kv(LinformerShare share) {
  return share == LinformerShare::kv || share == LinformerShare::layerwise;
}

LinformerSettings linformer_settings(const Settings& settings, int64_t max_len, const std::string& length_name) {
  const LinformerSettings s = linformer_params().read(settings);
  AZ_CHECK(s.k <= max_len, "linformer: k=", s.k, " must be <= ", length_name, "=", max_len,
           " (E and F project the ", max_len, " positions onto k rows)");
  return s;
}

// ---- the projections ------------------------------------------------------------------------------------------

LinformerProjections linformer_projections(int64_t n_heads, int64_t k, int64_t max_len, LinformerShare share,
                                           Rng& rng) {
  AZ_CHECK(n_heads >= 1 && k >= 1 && max_len >= 1, "linformer: projections need n_heads, k, max_len >= 1, got ",
           n_heads, ", ", k, ", ", max_len);
  const int64_t Hs = linformer_projection_heads(share, n_heads);
  const float sigma = 1.0f / std::sqrt(static_cast<float>(max_len));  // N(0, 1/max_len): rows of squared norm ~1
  LinformerProjections p;
  p.E = randn({Hs, k, max_len}, rng, 0.0f, sigma);
  p.F = linformer_shares_kv(share) ? p.E : randn({Hs, k, max_len}, rng, 0.0f, sigma);
  return p;
}

// ---- the kernel -----------------------------------------------------------------------------------------------

namespace {

// E (Hs, k, m_max) or (k, m_max), checked against q's heads and the m keys it must cover.
void check_projection(const Tensor& E, const char* name, int64_t H, int64_t m) {
  AZ_CHECK(E.defined() && (E.dim() == 2 || E.dim() == 3), "linformer: ", name,
           " must be (Hs, k, max_len) or (k, max_len), got ", E.defined() ? E.shape() : Shape{});
  AZ_CHECK(E.dim() == 2 || E.size(0) == 1 || E.size(0) == H, "linformer: ", name, " ", E.shape(),
           " must have 1 or H=", H, " matrices");
  AZ_CHECK(E.size(-1) >= m, "linformer: ", name, " ", E.shape(), " has ", E.size(-1),
           " columns (its max_len) but the sequence has n=", m, " positions");
}

// Padded keys and values (mask 0) become zero rows: (B, H, m, d) * (B, 1, m, 1).
Tensor zero_padded(const Tensor& x, const Tensor& key_padding_mask) {
  if (!key_padding_mask.defined()) return x;
  const int64_t B = x.size(0), m = x.size(2);
  AZ_CHECK(key_padding_mask.shape() == Shape({B, m}), "linformer: key_padding_mask must be (B, m) = ",
           Shape({B, m}), ", got ", key_padding_mask.shape());
  return x * reshape(key_padding_mask, {B, 1, m, 1});
}

// The fused op. q (B,H,n,d), k, v (B,H,m,d), E, F (Hs,k,m) or (k,m) with exactly m columns.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& E, const Tensor& F) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(q.size(3)));
  Tensor kp, vp, p, out;
  {
    NoGradGuard no_grad;  // the op records itself once, below
    kp = matmul(E, k);  // K̄ = E k: (Hs,k,m) @ (B,H,m,d) -> (B,H,k,d)
    vp = matmul(F, v);  // V̄ = F v: (B,H,k,d)
    Tensor s = matmul(q, kp, false, true);  // q K̄ᵀ: (B,H,n,d) @ (B,H,k,d)ᵀ -> (B,H,n,k)
    float* ps = s.data();
    detail::parallel_chunks(s.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ps[i] *= scale;  // S = q K̄ᵀ / √d
    });
    p = softmax(s, -1);     // P̄ = softmax(S): (B,H,n,k), rows sum to 1
    out = matmul(p, vp);    // out = P̄ V̄: (B,H,n,k) @ (B,H,k,d) -> (B,H,n,d)
  }
  return record(
      out, "linformer_attention", {q, k, v, E, F},
      [scale](BackwardContext& c) {
        const Tensor &q = c.inputs[0], &k = c.inputs[1], &v = c.inputs[2], &E = c.inputs[3], &F = c.inputs[4];
        const Tensor &kp = c.saved[0], &vp = c.saved[1], &p = c.saved[2];
        const Tensor& g = c.grad_out;  // dout: (B,H,n,d)
        // forward: out = P̄ V̄  =>  dP̄ = dout V̄ᵀ,  dV̄ = P̄ᵀ dout
        Tensor ds = matmul(g, vp, false, true);  // dP̄: (B,H,n,k), turned into dS in place below
        if (c.needs_grad(2) || c.needs_grad(4)) {
          const Tensor dvp = matmul(p, g, true, false);  // P̄ᵀ dout: (B,H,k,n) @ (B,H,n,d) -> (B,H,k,d)
          // forward: V̄ = F v  =>  dv = Fᵀ dV̄,  dF = Σ_(batch, shared heads) dV̄ vᵀ
          if (c.needs_grad(2)) c.add_grad(2, matmul(F, dvp, true, false));                    // (B,H,m,d)
          if (c.needs_grad(4)) c.add_grad(4, sum_to_shape(matmul(dvp, v, false, true), F.shape()));  // (Hs,k,m)
        }
        // forward: P̄ = softmax(S), S = q K̄ᵀ · scale  =>  dS = P̄ ⊙ (dP̄ − Σ_r dP̄_r P̄_r) · scale (scale folded in)
        const int64_t rows = p.numel() / p.size(-1), kk = p.size(-1);
        const float* pp = p.data();
        float* pd = ds.data();
        detail::parallel_rows(rows, kk, [&](int64_t r) {
          const float* pr = pp + r * kk;
          float* dr = pd + r * kk;
          double dot = 0.0;
          for (int64_t j = 0; j < kk; ++j) dot += static_cast<double>(dr[j]) * pr[j];
          const float dd = static_cast<float>(dot);
          for (int64_t j = 0; j < kk; ++j) dr[j] = pr[j] * (dr[j] - dd) * scale;
        });
        // forward: S = q K̄ᵀ  =>  dq = dS K̄,  dK̄ = dSᵀ q
        if (c.needs_grad(0)) c.add_grad(0, matmul(ds, kp));  // (B,H,n,k) @ (B,H,k,d) -> (B,H,n,d)
        if (c.needs_grad(1) || c.needs_grad(3)) {
          const Tensor dkp = matmul(ds, q, true, false);  // (B,H,k,n) @ (B,H,n,d) -> (B,H,k,d)
          // forward: K̄ = E k  =>  dk = Eᵀ dK̄,  dE = Σ_(batch, shared heads) dK̄ kᵀ
          if (c.needs_grad(1)) c.add_grad(1, matmul(E, dkp, true, false));                    // (B,H,m,d)
          if (c.needs_grad(3)) c.add_grad(3, sum_to_shape(matmul(dkp, k, false, true), E.shape()));  // (Hs,k,m)
        }
      },
      {kp, vp, p});
}

}  // namespace

Tensor linformer_first_columns(const Tensor& E, int64_t n) {
  AZ_CHECK(E.defined() && E.dim() >= 2 && n >= 1 && n <= E.size(-1), "linformer: cannot take the first ", n,
           " columns of E ", E.defined() ? E.shape() : Shape{});
  return n == E.size(-1) ? E : slice(E, E.dim() - 1, 0, n);
}

Tensor linformer_project(const Tensor& x, const Tensor& E) {
  AZ_CHECK(x.defined() && x.dim() == 4, "linformer: x must be (B, H, n, d), got ", x.defined() ? x.shape() : Shape{});
  check_projection(E, "E", x.size(1), x.size(2));
  return matmul(linformer_first_columns(E, x.size(2)), x);  // (Hs,k,n) @ (B,H,n,d) -> (B,H,k,d)
}

Tensor linformer_context(const Tensor& q, const Tensor& k, const Tensor& E, const Tensor& key_padding_mask) {
  Scheme::check_qkv(q, k, k, "linformer");
  const Tensor kp = linformer_project(zero_padded(k, key_padding_mask), E);  // K̄: (B,H,k,d)
  const float scale = 1.0f / std::sqrt(static_cast<float>(q.size(3)));
  return softmax(matmul(q, kp, false, true) * scale, -1);  // P̄: (B,H,n,k)
}

Tensor linformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& E, const Tensor& F,
                           const Tensor& key_padding_mask) {
  Scheme::check_qkv(q, k, v, "linformer");
  const int64_t H = q.size(1), m = k.size(2);
  check_projection(E, "E", H, m);
  check_projection(F, "F", H, m);
  AZ_CHECK(E.size(-2) == F.size(-2), "linformer: E ", E.shape(), " and F ", F.shape(),
           " must project onto the same k");
  return fused_attention(q, zero_padded(k, key_padding_mask), zero_padded(v, key_padding_mask),
                         linformer_first_columns(E, m), linformer_first_columns(F, m));
}

Tensor linformer_effective_attention(const Tensor& q, const Tensor& k, const Tensor& E, const Tensor& F,
                                     const Tensor& key_padding_mask) {
  const Tensor p = linformer_context(q, k, E, key_padding_mask);  // P̄: (B,H,n,k)
  const int64_t B = q.size(0), m = k.size(2);
  check_projection(F, "F", q.size(1), m);
  Tensor A = matmul(p, linformer_first_columns(F, m));  // P̄ F: (B,H,n,k) @ (Hs,k,m) -> (B,H,n,m)
  // out = P̄ F diag(mask) v: a padded value is zeroed before F sees it, so its column of A is 0.
  if (key_padding_mask.defined()) A = A * reshape(key_padding_mask, {B, 1, 1, m});
  return A;
}

// ---- the layer ------------------------------------------------------------------------------------------------

LinformerLayer::LinformerLayer(const LayerConfig& cfg, Rng& rng, const Tensor& shared_E)
    : ProjectedAttention(find_scheme("linformer"), cfg, rng),  // refuses causal (configure)
      max_len(cfg.max_len),
      settings([&] {
        AZ_CHECK(cfg.max_len >= 1, "linformer layer: max_len must be >= 1, got ", cfg.max_len);
        return linformer_settings(config.settings, cfg.max_len);
      }()) {
  if (shared_E.defined()) {
    AZ_CHECK(settings.share == LinformerShare::layerwise, "linformer layer: a shared E is for share=layerwise, got share=",
             linformer_share_name(settings.share));
    AZ_CHECK(shared_E.shape() == Shape({1, settings.k, max_len}), "linformer layer: the shared E must be (1, k, max_len) = ",
             Shape({1, settings.k, max_len}), ", got ", shared_E.shape());
    E = F = shared_E;  // owned (and registered) by the layer that made it
    return;
  }
  const LinformerProjections p = linformer_projections(n_heads, settings.k, max_len, settings.share, rng);
  E = register_parameter("E", p.E);
  F = linformer_shares_kv(settings.share) ? E : register_parameter("F", p.F);
}

Tensor LinformerLayer::attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& key_padding_mask) {
  AZ_CHECK(x.size(1) <= max_len, "linformer layer: sequence length n=", x.size(1), " exceeds max_len=", max_len,
           " (E and F have max_len columns)");
  return linformer_attention(q, k, v, E, F, key_padding_mask);  // (B, H, n, d)
}

// ---- the registered scheme "linformer" ------------------------------------------------------------------------

namespace {

SchemeInfo linformer_info() {
  SchemeInfo i;
  i.name = "linformer";
  i.summary =
      "low rank: keys and values projected along the sequence to k rows, softmax(Q(EK)ᵀ/√d)(FV), O(n·k); not causal";
  i.paper = "Wang et al. 2020, Linformer: Self-Attention with Linear Complexity";
  i.lecture = 6;
  i.use(linformer_params());
  i.causal = false;
  i.causal_refusal = kLinformerCausalRefusal;
  i.families = {Family::LR};
  i.exactness = Exactness::approximate;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "keys and values projected along n onto k rows: rank <= k";
  i.claim = {"Wang et al. 2020 (Figure 3, Table 2): masked-LM perplexity at k = 128 comes close to the "
              "Transformer at n = 512, k = 256 matches it; downstream average 91.75 at k = 128 vs RoBERTa 92.25",
             attention::ClaimTest::mlm_matches_exact};
  i.lra_paper = {"Linformer", 35.70, 76.34, 51.36, 53.94, 52.27, 38.56};
  i.lm_settings = {"k=64"};  // 64 projected rows (the paper: 128 or 256 at n = 512; make lm sweeps k)
  i.gallery_settings = {"k=8"};
  i.test_settings = {{"k=8", "share=headwise"}, {"k=5", "share=kv"}};
  return i;
}

class LinformerScheme : public Scheme {
 public:
  LinformerScheme() : Scheme(linformer_info()) {}

  // Projections EK, FV (2·2·n·k·d), scores and output (2·2·n·k·d) forward, twice that backward: 24·n·k·d.
  double flops(const Shape& q, const Config& cfg) const override {
    const double k = static_cast<double>(std::min<int64_t>(cfg.settings.get_int("k"), q[2]));
    return 24.0 * static_cast<double>(q[0] * q[1] * q[2] * q[3]) * k;
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "linformer");
    const LinformerProjections p = projections(q, k, cfg);
    return linformer_attention(q, k, v, p.E, p.F, cfg.key_padding_mask);
  }

  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "linformer");
    const LinformerProjections p = projections(q, k, cfg);
    return linformer_effective_attention(q, k, p.E, p.F, cfg.key_padding_mask);
  }

  // Not a check of the settings (configure does those): share=layerwise is a valid setting that this one-layer
  // factory cannot honour.
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, Rng& rng) const override {
    AZ_CHECK(linformer_params().read(configure(cfg.set, cfg.causal).settings).share != LinformerShare::layerwise,
             "linformer: share=layerwise needs one E shared by every layer of a model, but make_layer builds one "
             "layer at a time; build the layers with attention::LinformerLayer(cfg, rng, first_layer.E) "
             "(attention/linformer.h), or use share=kv (one E per layer)");
    return std::make_unique<LinformerLayer>(cfg, rng);
  }

 private:
  // E, F for a kernel call: max_len = the number of keys, drawn from Rng(cfg.seed) (see linformer.h). Drawing
  // 2·H·k·n normals costs about as much as the kernel itself, so the last draw is kept and reused while the
  // seed and the shapes stay the same — as a layer keeps its parameters. The result is the same either way.
  LinformerProjections projections(const Tensor& q, const Tensor& k, const Config& cfg) const {
    AZ_CHECK(!cfg.causal, "linformer: causal attention is not supported: ", kLinformerCausalRefusal);
    const int64_t m = k.size(2), H = q.size(1);
    const LinformerSettings s = linformer_settings(cfg.settings, m, "the number of keys m");  // k, v have m rows
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const bool hit = cache_.p.E.defined() && cache_.seed == cfg.seed && cache_.heads == H && cache_.k == s.k &&
                     cache_.n == m && cache_.share == s.share;
    if (!hit) {
      Rng rng(cfg.seed);
      cache_ = {cfg.seed, H, s.k, m, s.share, linformer_projections(H, s.k, m, s.share, rng)};
    }
    return cache_.p;
  }

  struct CachedProjections {
    uint64_t seed = 0;
    int64_t heads = 0, k = 0, n = 0;
    LinformerShare share = LinformerShare::none;
    LinformerProjections p;  // undefined until the first kernel call
  };
  mutable std::mutex cache_mutex_;
  mutable CachedProjections cache_;
};

Registrar registrar(std::make_unique<LinformerScheme>());

}  // namespace

}  // namespace attention

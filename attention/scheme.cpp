// attention/scheme.cpp — Settings parsing, the registry, and the standard projected attention layer.
#include "attention/scheme.h"

#include <algorithm>
#include <limits>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"

namespace attention {

// ---- description -----------------------------------------------------------------------------------------
namespace {
struct FamilyText {
  const char* code;
  const char* name;
};
constexpr FamilyText kFamilyText[kFamilies] = {
    {"EX", "exact attention"},  {"FP", "fixed patterns"}, {"CP", "combinations of patterns"},
    {"LP", "learnable patterns"}, {"M", "neural memory"}, {"LR", "low rank"},
    {"KR", "kernels"},          {"RC", "recurrence"},     {"DS", "downsampling"},
};
}  // namespace

const char* family_code(Family f) { return kFamilyText[static_cast<int>(f)].code; }
const char* family_name(Family f) { return kFamilyText[static_cast<int>(f)].name; }

const char* exactness_name(Exactness e) {
  return e == Exactness::exact ? "exact" : e == Exactness::on_pattern ? "exact on its pattern" : "approximate";
}

Scheme::Scheme(SchemeInfo info) : info_(std::move(info)) {
  // A scheme file's mistakes, caught when the program starts rather than in some table later.
  AZ_CHECK(!info_.name.empty() && info_.name.find_first_of(" \t=,/") == std::string::npos,
           "scheme name '", info_.name, "' must be one word (it is typed after `attnzoo run`)");
  AZ_CHECK(!info_.summary.empty() && !info_.paper.empty() && info_.lecture >= 0, info_.name,
           ": SchemeInfo needs a summary, a paper and a lecture");
  AZ_CHECK(info_.causal || !info_.causal_refusal.empty(), info_.name,
           ": a scheme without a causal variant says why (SchemeInfo::causal_refusal)");
  AZ_CHECK(!info_.families.empty() && !info_.time_growth.empty() && !info_.idea.empty(), info_.name,
           ": SchemeInfo needs its families, time_growth and idea (lesson 15's taxonomy)");
  AZ_CHECK(!info_.masked_softmax || (info_.has_pattern && info_.exactness != Exactness::approximate), info_.name,
           ": a masked softmax (SchemeInfo::masked_softmax) is exact on a pattern it can show (has_pattern)");
  configure(info_.lra_settings);  // the presets are settings the scheme accepts
  configure(info_.lm_settings);
  configure(info_.gallery_settings);
  for (const auto& set : info_.test_settings) configure(set);
}

// ---- Scheme helpers -------------------------------------------------------------------------------------
Tensor Scheme::pattern(const Shape&, const Config&) const {
  AZ_FAIL(name(), ": this scheme has no sparsity pattern (it is not a mask over the n×n matrix)");
}

Config Scheme::configure(const std::vector<std::string>& set, bool causal, uint64_t seed) const {
  AZ_CHECK(!causal || supports_causal(), name(), ": causal attention is not supported: ", causal_refusal());
  Config cfg;
  cfg.causal = causal;
  cfg.seed = seed;
  cfg.settings = Settings(name(), hyperparams(), set);
  if (info_.check_settings) info_.check_settings(cfg.settings);
  return cfg;
}

void Scheme::check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& op) {
  AZ_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must all be given");
  AZ_CHECK(q.dim() == 4, op, ": q must be (B, H, n, d), got ", q.shape());
  AZ_CHECK(k.dim() == 4 && v.dim() == 4, op, ": k and v must be (B, H, n, d), got k ", k.shape(), " v ", v.shape());
  AZ_CHECK(k.shape() == v.shape(), op, ": k ", k.shape(), " and v ", v.shape(), " must have the same shape");
  AZ_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), op, ": q ", q.shape(),
           " and k ", k.shape(), " must agree on B, H and d");
  AZ_CHECK(q.size(2) > 0 && q.size(3) > 0, op, ": empty q of shape ", q.shape());
  // A NaN or an infinity in the input cannot give an honest output: some kernels would read a NaN score as
  // "masked" and return a finite, plausible row. Refuse it here, once for every scheme (O(n·d), next to the
  // kernel's own O(n·K·d) work).
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"q", &q}, {"k", &k}, {"v", &v}}) {
    const int64_t e = core::first_non_finite(t->data(), t->numel());
    AZ_CHECK(e < 0, op, ": ", name, " has a non-finite value (", t->data()[e], ") at flat index ", e, " of ",
             t->shape());
  }
}

double Scheme::flops(const Shape&, const Config&) const { return std::numeric_limits<double>::quiet_NaN(); }

double Scheme::bytes(const Shape& q, const Config&) const { return io_bytes(q); }

double io_bytes(const Shape& q) {
  AZ_CHECK(q.size() == 4, "io_bytes: q must be (B, H, n, d), got ", q);
  return 8.0 * 4.0 * static_cast<double>(q[0] * q[1]) * static_cast<double>(q[2] * q[3]);
}

double attention_flops(const Shape& q, double pairs_per_head) {
  AZ_CHECK(q.size() == 4, "attention_flops: q must be (B, H, n, d), got ", q);
  return 12.0 * pairs_per_head * static_cast<double>(q[3]) * static_cast<double>(q[0] * q[1]);
}

double causal_pairs(int64_t n) { return 0.5 * static_cast<double>(n) * static_cast<double>(n + 1); }

std::unique_ptr<AttentionLayer> Scheme::make_layer(const LayerConfig& cfg, core::Rng& rng) const {
  return std::make_unique<ProjectedAttention>(*this, cfg, rng);
}

// ---- heads ----------------------------------------------------------------------------------------------
Tensor split_heads(const Tensor& x, int64_t n_heads) {
  AZ_CHECK(x.dim() == 3 && x.size(2) % n_heads == 0, "split_heads: x ", x.shape(), " must be (B, n, H*d) with H=",
           n_heads);
  const int64_t B = x.size(0), n = x.size(1), d = x.size(2) / n_heads;
  return core::permute(core::reshape(x, {B, n, n_heads, d}), {0, 2, 1, 3});  // (B, H, n, d)
}

Tensor merge_heads(const Tensor& x) {
  AZ_CHECK(x.dim() == 4, "merge_heads: x must be (B, H, n, d), got ", x.shape());
  const int64_t B = x.size(0), H = x.size(1), n = x.size(2), d = x.size(3);
  return core::reshape(core::permute(x, {0, 2, 1, 3}), {B, n, H * d});  // (B, n, H*d)
}

// ---- the standard layer ---------------------------------------------------------------------------------
void check_heads(const LayerConfig& cfg, const std::string& who) {
  AZ_CHECK(cfg.n_heads > 0 && cfg.d_model % cfg.n_heads == 0, who, " layer: d_model ", cfg.d_model,
           " is not divisible by n_heads ", cfg.n_heads);
}

ProjectedAttention::ProjectedAttention(const Scheme& s, const LayerConfig& cfg, core::Rng& rng)
    : scheme(s),
      config(s.configure(cfg.set, cfg.causal, cfg.seed)),
      d_model(cfg.d_model),
      n_heads(cfg.n_heads),
      w_q(cfg.d_model, cfg.d_model, rng),
      w_k(cfg.d_model, cfg.d_model, rng),
      w_v(cfg.d_model, cfg.d_model, rng),
      w_o(cfg.d_model, cfg.d_model, rng) {
  check_heads(cfg, s.name());
  register_module("w_q", w_q);
  register_module("w_k", w_k);
  register_module("w_v", w_v);
  register_module("w_o", w_o);
}

ProjectedAttention::Heads ProjectedAttention::project(const Tensor& x) {
  return {split_heads(w_q.forward(x), n_heads),   // q (B, H, n, d)
          split_heads(w_k.forward(x), n_heads),   // k (B, H, n, d)
          split_heads(w_v.forward(x), n_heads)};  // v (B, H, n, d)
}

Tensor ProjectedAttention::attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& key_padding_mask) {
  Config cfg = config;
  cfg.key_padding_mask = key_padding_mask;
  return scheme.kernel(q, k, v, cfg);  // (B, H, n, d)
}

Tensor ProjectedAttention::forward(const Tensor& x, const Tensor& key_padding_mask) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, scheme.name(), " layer: x must be (B, n, ", d_model, "), got ",
           x.shape());
  const Heads h = project(x);                                     // q, k, v: (B, H, n, d)
  const Tensor out = attend(x, h.q, h.k, h.v, key_padding_mask);  // (B, H, n, d)
  return w_o.forward(merge_heads(out));                           // (B, n, d_model)
}

// ---- the attention a layer puts on its input ------------------------------------------------------------
Tensor AttentionLayer::attention_weights(const Tensor&) {
  AZ_FAIL("attention_weights: this layer's output is not one n×n mix of its value rows (no matrix to show)");
}

Tensor ProjectedAttention::attention_weights(const Tensor& x) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, scheme.name(), " layer: x must be (B, n, ", d_model, "), got ",
           x.shape());
  core::NoGradGuard no_grad;
  const Heads h = project(x);                                 // q, k, v: (B, H, n, d)
  return scheme.effective_attention(h.q, h.k, h.v, config);  // (B, H, n, n)
}

Tensor ProjectedAttention::attend_matrix(const Tensor& x) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, scheme.name(), " layer: x must be (B, n, ", d_model, "), got ",
           x.shape());
  AZ_CHECK(!training(), scheme.name(), " layer: attention_weights needs eval mode (training may change the layer)");
  core::NoGradGuard no_grad;
  const Heads h = project(x);  // q, k, v: (B, H, n, d)
  const int64_t B = h.v.size(0), H = h.v.size(1), n = h.v.size(2), d = h.v.size(3);
  Tensor A = Tensor::zeros({B, H, n, n});
  for (int64_t j0 = 0; j0 < n; j0 += d) {  // values = identity columns j0 .. j0+d-1 (zeros past n)
    Tensor e = Tensor::zeros({B, H, n, d});
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t c = 0; c < d && j0 + c < n; ++c) e.data()[(bh * n + j0 + c) * d + c] = 1.0f;
    const Tensor out = attend(x, h.q, h.k, e, Tensor());  // (B, H, n, d) = A[:, :, :, j0 .. j0+d-1]
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < d && j0 + c < n; ++c)
          A.data()[(bh * n + i) * n + j0 + c] = out.data()[(bh * n + i) * d + c];
  }
  return A;
}

// ---- registry -------------------------------------------------------------------------------------------
namespace {
std::vector<std::unique_ptr<Scheme>>& registry() {
  static std::vector<std::unique_ptr<Scheme>> schemes;  // built on first use: safe from static-init order
  return schemes;
}
}  // namespace

void register_scheme(std::unique_ptr<Scheme> scheme) { registry().push_back(std::move(scheme)); }

const Scheme& find_scheme(const std::string& name) {
  for (const auto& s : registry())
    if (s->name() == name) return *s;
  std::string known;
  for (const Scheme* s : all_schemes()) known += (known.empty() ? "" : ", ") + s->name();
  AZ_FAIL("unknown scheme '", name, "' (known: ", known, ")");
}

std::vector<const Scheme*> all_schemes() {
  std::vector<const Scheme*> out;
  for (const auto& s : registry()) out.push_back(s.get());
  std::sort(out.begin(), out.end(), [](const Scheme* a, const Scheme* b) {
    return a->lecture() != b->lecture() ? a->lecture() < b->lecture() : a->name() < b->name();
  });
  return out;
}

}  // namespace attention

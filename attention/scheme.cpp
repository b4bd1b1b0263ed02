// attention/scheme.cpp — Settings parsing, the registry, and the standard projected attention layer.
#include "attention/scheme.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "core/ops_elementwise.h"
#include "core/ops_shape.h"

namespace attention {

// ---- Settings -------------------------------------------------------------------------------------------
Settings::Settings(const std::string& scheme, const std::vector<HyperParam>& spec,
                   const std::vector<std::string>& assignments)
    : scheme_(scheme) {
  for (const HyperParam& p : spec) values_[p.key] = p.default_value;
  std::set<std::string> given;  // a key set twice is a mistake (which one was meant?), not "the last one wins"
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    AZ_CHECK(eq != std::string::npos && eq > 0, scheme, ": setting '", a, "' is not of the form key=value");
    const std::string key = a.substr(0, eq);
    if (!values_.count(key)) {
      std::string known;
      for (const HyperParam& p : spec) known += (known.empty() ? "" : ", ") + p.key;
      AZ_FAIL(scheme, ": unknown setting '", key, "' (", known.empty() ? "this scheme has no settings" : "known: " + known,
              ")");
    }
    AZ_CHECK(given.insert(key).second, scheme, ": setting '", key, "' is given twice (", key, "=",
             values_[key], " and ", a, "); give each setting once");
    values_[key] = a.substr(eq + 1);
  }
}

std::string Settings::get(const std::string& key) const {
  auto it = values_.find(key);
  AZ_CHECK(it != values_.end(), scheme_, ": no setting named '", key, "'");
  return it->second;
}

int64_t Settings::get_int(const std::string& key) const {
  const std::string s = get(key);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  AZ_CHECK(!s.empty() && end && *end == '\0' && errno == 0, scheme_, ": setting ", key, "='", s,
           "' is not an integer");
  return v;
}

double Settings::get_float(const std::string& key) const {
  const std::string s = get(key);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  AZ_CHECK(!s.empty() && end && *end == '\0' && errno == 0, scheme_, ": setting ", key, "='", s,
           "' is not a number");
  return v;
}

bool Settings::get_bool(const std::string& key) const {
  const std::string s = get(key);
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  AZ_FAIL(scheme_, ": setting ", key, "='", s, "' is not true/false");
}

std::vector<int64_t> Settings::get_int_list(const std::string& key) const {
  const std::string s = get(key);
  std::vector<int64_t> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(start, comma - start);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    AZ_CHECK(!item.empty() && end && *end == '\0' && errno == 0, scheme_, ": setting ", key, "='", s,
             "' is not a comma-separated list of integers");
    out.push_back(v);
    start = comma + 1;
  }
  return out;
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
    const float* p = t->data();
    for (int64_t e = 0; e < t->numel(); ++e)
      AZ_CHECK(std::isfinite(p[e]), op, ": ", name, " has a non-finite value (", p[e], ") at flat index ", e,
               " of ", t->shape());
  }
}

double Scheme::flops(const Shape&, const Config&) const { return std::numeric_limits<double>::quiet_NaN(); }

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

Tensor ProjectedAttention::forward(const Tensor& x, const Tensor& key_padding_mask) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, scheme.name(), " layer: x must be (B, n, ", d_model, "), got ",
           x.shape());
  const Tensor q = split_heads(w_q.forward(x), n_heads);  // (B, H, n, d)
  const Tensor k = split_heads(w_k.forward(x), n_heads);
  const Tensor v = split_heads(w_v.forward(x), n_heads);
  Config cfg = config;
  cfg.key_padding_mask = key_padding_mask;
  return w_o.forward(merge_heads(scheme.kernel(q, k, v, cfg)));  // (B, n, d_model)
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

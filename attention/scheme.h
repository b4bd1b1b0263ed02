// attention/scheme.h — the one interface every attention scheme implements, and the registry that finds
// schemes by name (for the CLI, the benchmark, the transformer block and LRA).
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, d_model = H * d.
//   x:       (B, n, d_model)   the layer's input
//   q, k, v: (B, H, n, d)      what the kernel works on
//
// A scheme offers three levels (DESIGN.md):
//   1. kernel(q, k, v, cfg)               -> (B, H, n, d), without an n×n matrix where avoiding it is the point
//   2. effective_attention(q, k, v, cfg)  -> (B, H, n, n), the matrix A the kernel applied: kernel == A @ v;
//      pattern(...)                       -> (B, H, n, n) 0/1, where the scheme has a sparsity pattern
//   3. make_layer(...)                    -> a Module with its own projections: forward(x) -> (B, n, d_model)
// Hyperparameters are key=value strings with documented defaults (e.g. window=32), parsed by Settings.
//
// Adding a scheme = adding attention/NAME.{h,cpp} with a `static Registrar reg(std::make_unique<MyScheme>());`.
// (The library is linked with --whole-archive, so such self-registering files are never dropped.)
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/nn.h"
#include "core/random.h"
#include "core/tensor.h"

namespace attention {

using core::IntTensor;
using core::Shape;
using core::Tensor;

// One documented hyperparameter: key, default value (as text), what it means.
struct HyperParam {
  std::string key;
  std::string default_value;
  std::string help;
};

// key=value settings checked against a scheme's HyperParams, with defaults filled in.
// Unknown keys and unparsable values throw core::Error naming the scheme and the key.
class Settings {
 public:
  Settings() = default;
  Settings(const std::string& scheme, const std::vector<HyperParam>& spec,
           const std::vector<std::string>& assignments);  // {"window=32", "global=0,1"}
  std::string get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;  // true/false/1/0
  std::vector<int64_t> get_int_list(const std::string& key) const;  // "0,1,5" ; "" -> {}
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::string scheme_;
  std::map<std::string, std::string> values_;
};

// What a kernel call gets besides q, k, v.
struct Config {
  bool causal = false;       // token i may only look at j <= i
  uint64_t seed = 0;         // for schemes with random parts (features, hashes, random blocks)
  Settings settings;         // the scheme's hyperparameters
  Tensor key_padding_mask;   // (B, n): 1 = real token, 0 = padding; undefined = no padding
};

// A layer with its own parameters: x (B, n, d_model) -> (B, n, d_model).
class AttentionLayer : public core::nn::Module {
 public:
  virtual Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) = 0;
};

struct LayerConfig {
  int64_t d_model = 64;
  int64_t n_heads = 4;
  int64_t max_len = 1024;  // the longest sequence the layer must accept (fixed-length schemes need it)
  bool causal = false;
  uint64_t seed = 0;
  std::vector<std::string> set;  // key=value hyperparameters
};

class Scheme {
 public:
  virtual ~Scheme() = default;

  // ---- description (attnzoo list) ----
  virtual std::string name() const = 0;
  virtual std::string summary() const = 0;  // one line
  virtual std::string paper() const = 0;    // "Vaswani et al. 2017, Attention Is All You Need"
  virtual int lecture() const = 0;          // the course lecture (and lesson number) that introduces it
  virtual std::vector<HyperParam> hyperparams() const { return {}; }
  virtual bool supports_causal() const = 0;
  // Why causal attention is refused, for the error message (when !supports_causal()).
  virtual std::string causal_refusal() const { return "this scheme has no causal variant"; }
  virtual bool has_pattern() const { return false; }
  // Non-empty: why `attnzoo run` (kernel on given q, k, v) does not apply to this scheme.
  virtual std::string run_refusal() const { return ""; }

  // ---- the three levels ----
  virtual Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const = 0;
  virtual Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const = 0;
  virtual Tensor pattern(const Shape& q_shape, const Config& cfg) const;  // throws unless has_pattern()
  // The pattern for these particular q and k. Schemes whose pattern depends on the data (routing's clusters,
  // sinkhorn's sorted blocks) override this; by default it is pattern(q.shape(), cfg).
  virtual Tensor data_pattern(const Tensor& q, const Tensor& k, const Config& cfg) const {
    return pattern(q.shape(), cfg);
  }
  // A picture that says more than the n×n matrix, for `attnzoo show` (e.g. star's (n+1)×(n+2) connectivity of
  // satellites, relay and embeddings): a 2-D tensor to draw as a heatmap, its title and axis names.
  // Undefined (the default) when the scheme has none.
  struct Figure {
    Tensor matrix;
    std::string title, xlabel, ylabel, value_label;
  };
  virtual Figure extra_figure(int64_t n, const Config& cfg) const { return {}; }
  virtual std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, core::Rng& rng) const;
  // Useful floating-point operations of the kernel's forward + backward for q of this shape, counting a
  // multiply-add as 2 — the work the scheme's algorithm needs, not what an implementation happens to spend.
  // Softmax attention over P (query, key) pairs per head costs 12·P·d (QKᵀ and PV forward: 4·P·d; their
  // four gradients: 8·P·d). Shown as GFLOP/s in the efficiency table, so that a slow kernel cannot hide behind a
  // good exponent. NaN when not worked out.
  virtual double flops(const Shape& q_shape, const Config& cfg) const;

  // ---- helpers for callers ----
  // Validates the settings and the causal flag against this scheme (one-line errors naming what is wrong).
  Config configure(const std::vector<std::string>& set, bool causal = false, uint64_t seed = 0) const;
  // Checks q, k, v are (B, H, n, d) with matching shapes; `op` names the caller in the error.
  static void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& op);
};

// The standard layer: x -> Q, K, V projections -> split heads -> scheme.kernel -> merge heads -> output
// projection. Schemes without extra parameters use it as is.
class ProjectedAttention : public AttentionLayer {
 public:
  ProjectedAttention(const Scheme& scheme, const LayerConfig& cfg, core::Rng& rng);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) override;
  const Scheme& scheme;
  Config config;
  int64_t d_model, n_heads;
  core::nn::Linear w_q, w_k, w_v, w_o;
};

// Every layer's first check: n_heads > 0 divides d_model. Throws "WHO layer: d_model D is not divisible by
// n_heads H" otherwise.
void check_heads(const LayerConfig& cfg, const std::string& who);

// 12·pairs·d·B·H: softmax attention over `pairs` (query, key) pairs per head, forward + backward.
double attention_flops(const Shape& q_shape, double pairs_per_head);
// The number of (i, j) pairs with j <= i among n queries and keys: n(n+1)/2.
double causal_pairs(int64_t n);

// (B, n, H*d) -> (B, H, n, d) and back.
Tensor split_heads(const Tensor& x, int64_t n_heads);
Tensor merge_heads(const Tensor& x);

// ---- registry ----
void register_scheme(std::unique_ptr<Scheme> scheme);
const Scheme& find_scheme(const std::string& name);  // error lists the known names
std::vector<const Scheme*> all_schemes();            // in course order (lecture, then name)

struct Registrar {
  explicit Registrar(std::unique_ptr<Scheme> scheme) { register_scheme(std::move(scheme)); }
};

}  // namespace attention

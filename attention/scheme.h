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
// Hyperparameters are key=value strings with documented defaults (e.g. window=32), declared once in a ParamTable
// (attention/params.h) and checked by Settings.
//
// Adding a scheme = adding ONE file, attention/NAME.cpp: a Scheme subclass whose constructor passes its SchemeInfo
// (name, paper, lecture, taxonomy, presets, hyperparameters) and `Registrar reg(std::make_unique<MyScheme>());`.
// The README's "Add a scheme" section has a complete example. (The library is linked with --whole-archive, so such
// self-registering files are never dropped.)
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attention/params.h"
#include "core/nn.h"
#include "core/random.h"
#include "core/tensor.h"

namespace attention {

using core::IntTensor;
using core::Shape;
using core::Tensor;

// What a kernel call gets besides q, k, v.
struct Config {
  bool causal = false;       // token i may only look at j <= i
  uint64_t seed = 0;         // for schemes with random parts (features, hashes, random blocks)
  Settings settings;         // the scheme's hyperparameters
  Tensor key_padding_mask;   // (B, n): 1 = real token, 0 = padding; undefined = no padding
};

class Decoder;       // attention/decode.h: a scheme's causal attention, one token at a time, and its state
class LayerDecoder;  // attention/decode.h: a whole attention layer, one token at a time

// A layer with its own parameters: x (B, n, d_model) -> (B, n, d_model).
class AttentionLayer : public core::nn::Module {
 public:
  virtual Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) = 0;
  // The layer one token at a time, for a causal layer and a sequence of n tokens (attention/decode.h: a
  // LayerDecoder). Default: the fallback that keeps the layer's inputs and runs forward on them at every step.
  // ProjectedAttention itself projects the token and hands q, k, v to its scheme's Decoder.
  virtual std::unique_ptr<LayerDecoder> make_decoder(int64_t n);
  // The attention this layer puts on x: (B, H, n, n), row i = what query i takes from each key j, so that the
  // heads' output before w_o is attention_weights(x) @ v (v = the layer's value projection of x, (B, H, n, d)).
  // For pictures (lm/attention_maps.h): call it in eval mode (a layer in training may redraw or update state).
  // No padding mask. Default: throws — a layer whose output is not one n×n mix of its value rows (Star's relay).
  virtual Tensor attention_weights(const Tensor& x);
};

struct LayerConfig {
  int64_t d_model = 64;
  int64_t n_heads = 4;
  int64_t max_len = 1024;  // the longest sequence the layer must accept (fixed-length schemes need it)
  bool causal = false;
  uint64_t seed = 0;
  std::vector<std::string> set;  // key=value hyperparameters
};

// The families of Tay, Dehghani, Bahri, Metzler 2020, Efficient Transformers: A Survey (§3.1, Table 1), plus EX
// for exact attention (the course's own column: the survey has no such class).
enum class Family { EX, FP, CP, LP, M, LR, KR, RC, DS };
constexpr int kFamilies = 9;
const char* family_code(Family f);  // "FP"
const char* family_name(Family f);  // "fixed patterns"

// How the matrix a scheme applies relates to softmax attention.
enum class Exactness {
  exact,       // the same function as softmax(q kᵀ/√d) v
  on_pattern,  // exact softmax attention over the pairs its (fixed or data-dependent) pattern keeps
  approximate  // a different matrix: an estimate of softmax attention, or another kind of attention
};
const char* exactness_name(Exactness e);  // "exact", "exact on its pattern", "approximate"

// A row of Tay et al. 2021, Long Range Arena (ICLR), Table 1: test accuracy (%); NaN = not in the table. Written in
// the order of the fields: {model, listops, pathfinder, average, text, retrieval, image} (the five columns were
// checked against the paper's average of each row).
struct PaperLraRow {
  std::string model;  // the name the paper's tables use ("Linear Trans."); empty = the scheme is not in them
  double listops = std::numeric_limits<double>::quiet_NaN();
  double pathfinder = std::numeric_limits<double>::quiet_NaN();
  double average = std::numeric_limits<double>::quiet_NaN();  // over the five tasks
  double text = std::numeric_limits<double>::quiet_NaN();     // IMDb, byte level, up to 4K
  double retrieval = std::numeric_limits<double>::quiet_NaN();  // AAN pairs, 2 x 4K bytes
  double image = std::numeric_limits<double>::quiet_NaN();    // grayscale CIFAR-10, 1 024 pixels
};

// How the project's offline experiments test a paper's headline claim (lm/claims.h reads their results:
// `make lm` writes out/lm, `make lra` out/lra, `make lra-pretrained` out/lra-pretrained).
enum class ClaimTest {
  none,                    // not measurable here: PaperClaim::why_not says why
  lm_matches_exact,        // its causal byte LM's test bits per byte within 1 % of exact attention's (out/lm)
  mlm_matches_exact,       // the same for the masked LM
  lm_beats_local,          // its causal LM's test bpc below the local window's (longformer, a like key budget)
  longer_context_helps,    // its causal LM's test bpc lower at the longest context than at the shortest (out/lm)
  pretraining_helps,       // which book?: fine-tuned from the pretrained LM more accurate than from scratch
  small_data_beats_exact   // which book? (1 575 training passages) from scratch: more accurate than exact attention
};

// A paper's headline pretraining or downstream claim, quoted as theirs, and how we test its direction.
struct PaperClaim {
  std::string claim;    // one line, with its number and where it is in the paper (table, section)
  ClaimTest test = ClaimTest::none;
  std::string why_not;  // test == none: why the offline experiments cannot test it
  PaperClaim() = default;
  PaperClaim(std::string claim, ClaimTest test, std::string why_not = "")
      : claim(std::move(claim)), test(test), why_not(std::move(why_not)) {}
};

// Everything the project knows about a scheme besides its code, declared once in the scheme's own file. The CLI
// (list, show, run, bench, lra), lesson 15's taxonomy, the LRA suite, the gallery and the conformance tests read it
// from the registry; nothing else lists schemes.
struct SchemeInfo {
  // ---- who it is (attnzoo list) ----
  std::string name;     // the registry key: `attnzoo run NAME`
  std::string summary;  // one line
  std::string paper;    // "Authors year, Title (venue)"
  int lecture = 0;      // the course lecture (and lesson number) that introduces it
  std::vector<HyperParam> hyperparams;  // from the scheme's ParamTable (attention/params.h); empty = no settings
  std::function<void(const Settings&)> check_settings;  // the table's rules across keys; run by Scheme::configure
  // Both of the above from one table (a static object: it outlives every scheme).
  template <class O>
  void use(const ParamTable<O>& table) {
    hyperparams = table.hyperparams();
    check_settings = [&table](const Settings& s) { table.read(s); };
  }
  // ---- what it supports ----
  bool causal = false;         // has a causal variant
  std::string causal_refusal;  // why not, when !causal (for the error message)
  bool has_pattern = false;    // pattern() gives its 0/1 sparsity pattern
  // ---- where it sits (lesson 15) ----
  // Its classes in the survey: Table 1, or §3.1 for CP (Table 1 lists Sparse Transformer as FP only; §3.1 gives it
  // and Axial Transformer as the examples of combinations of patterns, so `sparse` is FP + CP) ...
  std::vector<Family> families;
  bool in_survey = true;         // ... or, when the survey does not list it, the course's placement
  Exactness exactness = Exactness::approximate;
  // kernel(q, k, v) == softmax(q kᵀ/√d, -∞ where data_pattern is 0) v, outputs and gradients: the conformance
  // tests compare it with that masked dense reference. False for schemes that change the scores themselves
  // (ETC's relative biases, Star's relay, Reformer's shared-QK hashing rounds) or approximate them.
  bool masked_softmax = false;
  // Why the layer is not a smooth function of its input and parameters, if it is not: a discrete, data-dependent
  // routing (LSH buckets, k-means clusters) or a ReLU. A finite-difference gradcheck is then valid only at points
  // where no step crosses a boundary or a kink, so such a scheme gradchecks its layer in its own tests (with the
  // routing held fixed, or at a point chosen away from the kinks) instead of in the conformance table. Empty: smooth.
  std::string nonsmooth;
  std::string time_growth;       // growth of the kernel's time at default settings: "n", "n·√n", "n²"
  double memory_exponent = 2;    // expected exponent of its memory in n: 1, 1.5 or 2 (lesson 15 measures it)
  std::string idea;              // one line: which pairs it keeps, or how it approximates
  PaperClaim claim;              // the paper's headline claim (out/claims.md); empty for the exact references
  // ---- presets ----
  PaperLraRow lra_paper;                        // its row in the Long Range Arena paper
  std::vector<std::string> lra_settings;        // the mini Long Range Arena's preset (attnzoo lra, make lra)
  // The byte-level language model's preset (attnzoo lm train and make lm; --set overrides it key by key): the
  // schemes that keep some keys per query keep about 64 of them at n = 512, so that the LM table compares them at
  // a like budget. Empty: the scheme's defaults.
  std::vector<std::string> lm_settings;
  std::vector<std::string> gallery_settings;    // the setting the gallery draws (its keys' effect shows at n = 64)
  std::vector<std::vector<std::string>> test_settings;  // the conformance tests run the defaults and each of these
};

class Scheme {
 public:
  explicit Scheme(SchemeInfo info);
  virtual ~Scheme() = default;

  // ---- description: the scheme's SchemeInfo ----
  const SchemeInfo& info() const { return info_; }
  const std::string& name() const { return info_.name; }
  const std::string& summary() const { return info_.summary; }
  const std::string& paper() const { return info_.paper; }
  int lecture() const { return info_.lecture; }
  const std::vector<HyperParam>& hyperparams() const { return info_.hyperparams; }
  bool supports_causal() const { return info_.causal; }
  const std::string& causal_refusal() const { return info_.causal_refusal; }
  bool has_pattern() const { return info_.has_pattern; }

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
  // Where a pretrained standard layer's parameter (ProjectedAttention's "w_q.weight", ..., "w_o.bias") goes in
  // this scheme's layer, when a model pretrained with another scheme is fine-tuned with this one (lra --init):
  // the names, relative to the layer, that start from it. Default: the same name, for every layer built on
  // ProjectedAttention. Star's layer has no w_q of its own: each cycle's satellite and relay projections start
  // from the pretrained ones. Empty: the parameter is not used.
  virtual std::vector<std::string> carry_names(const std::string& name, const Config& cfg) const { return {name}; }
  // The state that decodes this scheme's causal attention one token at a time, for a sequence of n tokens
  // (attention/decode.h; call attention::make_decoder, which checks the config first). Default: the fallback
  // that recomputes the whole causal kernel at every step; a scheme whose causal form has a cheaper state (a KV
  // cache, a ring buffer, a recurrent state) overrides it.
  virtual std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const;
  // Useful floating-point operations of the kernel's forward + backward for q of this shape, counting a
  // multiply-add as 2 — the work the scheme's algorithm needs, not what an implementation happens to spend.
  // Softmax attention over P (query, key) pairs per head costs 12·P·d (QKᵀ and PV forward: 4·P·d; their
  // four gradients: 8·P·d). Shown as GFLOP/s in the efficiency table, so that a slow kernel cannot hide behind a
  // good exponent. NaN when not worked out.
  virtual double flops(const Shape& q_shape, const Config& cfg) const;
  // Compulsory memory traffic of the kernel's forward + backward in bytes: what the scheme's algorithm must
  // move at least, whatever the implementation (core/machine.h's roofline: max(flops / peak, bytes / bandwidth)).
  // Default: its inputs and outputs once each, float32 — q, k, v read and out written forward; the gradient of
  // out read and dq, dk, dv written backward: io_bytes(q_shape) = 8 · B·H·n·d · 4. An algorithm that must also
  // store something between forward and backward adds it (full attention: the n×n probabilities, written
  // forward and read backward); one that can recompute its state (flash) does not.
  virtual double bytes(const Shape& q_shape, const Config& cfg) const;

  // ---- helpers for callers ----
  // Validates the settings and the causal flag against this scheme (one-line errors naming what is wrong).
  Config configure(const std::vector<std::string>& set, bool causal = false, uint64_t seed = 0) const;
  // Checks q, k, v are (B, H, n, d) with matching shapes; `op` names the caller in the error.
  static void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& op);

 private:
  SchemeInfo info_;
};

// The standard layer, and the base of every scheme's own layer:
//
//   x (B, n, d_model) --w_q, w_k, w_v, split_heads--> q, k, v (B, H, n, d)   project(x)
//                     --the scheme's attention-----> (B, H, n, d)           attend(x, q, k, v, mask)
//                     --merge_heads, w_o----------> (B, n, d_model)         forward(x)
//
// Schemes without extra parameters or state use it as is (make_layer's default). A scheme whose layer needs more
// derives from it, overrides only the hook that differs and registers only its EXTRA parameters and buffers
// (Linformer's E and F, ETC's global projections, routing's centroids); w_q, w_k, w_v, w_o are always these four,
// drawn in this order from the layer's rng before anything the subclass draws.
class ProjectedAttention : public AttentionLayer {
 public:
  ProjectedAttention(const Scheme& scheme, const LayerConfig& cfg, core::Rng& rng);
  // w_o(merge_heads(attend(x, project(x)))): (B, n, d_model) -> (B, n, d_model). Subclasses override the hooks
  // below, not this skeleton.
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) override;

  struct Heads {
    Tensor q, k, v;  // each (B, H, n, d)
  };
  // Hook 1, where q, k, v come from. Default: the three projections of x, split into heads. Override when some
  // positions use other projections (ETC's global tokens have their own Q_g, K_g, V_g).
  virtual Heads project(const Tensor& x);
  // Hook 2, the attention on the heads: -> (B, H, n, d). Default: scheme.kernel(q, k, v) with the layer's config
  // and the padding mask (B, n). Override when the layer brings its own parameters or state into the kernel
  // (Linformer's learned E, F; routing's centroids; BigBird's own random graph). x (B, n, d_model) is there for
  // layers that project more from it (Longformer's global Q_g, K_g, V_g).
  virtual Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& key_padding_mask);
  // (B, H, n, n): default scheme.effective_attention(project(x)) with the layer's config. A layer that overrides
  // attend overrides this too, usually with attend_matrix.
  Tensor attention_weights(const Tensor& x) override;
  // The layer one token at a time: this class's own layer projects token t and steps its scheme's Decoder
  // (KV cache, ring buffer, recurrent state); a subclass, whose attend brings its own parameters or state, gets
  // the fallback (recompute) unless it overrides this too.
  std::unique_ptr<LayerDecoder> make_decoder(int64_t n) override;

  const Scheme& scheme;
  Config config;  // the scheme's settings for this layer (validated), causal flag and seed
  int64_t d_model, n_heads;
  core::nn::Linear w_q, w_k, w_v, w_o;

 protected:
  // The matrix attend applies, read off attend itself: attend is linear in v, attend(q, k, V) = A V, so feeding
  // the columns of the n×n identity as values (d at a time, v's own width) returns A's columns. Exact for any
  // attend whose A depends on q, k and the layer only, not on v. Eval mode only (no state changes); no graph.
  Tensor attend_matrix(const Tensor& x);
};

// Every layer's first check: n_heads > 0 divides d_model. Throws "WHO layer: d_model D is not divisible by
// n_heads H" otherwise.
void check_heads(const LayerConfig& cfg, const std::string& who);

// 12·pairs·d·B·H: softmax attention over `pairs` (query, key) pairs per head, forward + backward.
double attention_flops(const Shape& q_shape, double pairs_per_head);
// 8 · B·H·n·d · 4: every attention kernel's inputs and outputs, forward + backward, float32 (Scheme::bytes).
double io_bytes(const Shape& q_shape);
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

// lm/generate.cpp — see generate.h. Legend: n = context, t = bytes in the window, V = 256, D = d_model.
#include "lm/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <utility>

#include "core/core.h"
#include "core/timing.h"

namespace lm {

using namespace core;

namespace {

void check_causal_eval(const ByteLM& model) {
  AZ_CHECK(!model.config.masked, "generate: the model is a masked LM (it predicts bytes from both sides, so it "
                                 "cannot write left to right); train one with `attnzoo lm train` without --mlm");
  AZ_CHECK(model.config.model.causal, "generate: the model is not causal");
  AZ_CHECK(!model.training(), "generate: the model is in training mode; call eval() first");
}

}  // namespace

// ---- the model one byte at a time ---------------------------------------------------------------------------
ByteLMDecoder::ByteLMDecoder(ByteLM& model, bool cache) : model_(model), cache_(cache), n_(model.config.context) {
  check_causal_eval(model);
  if (cache_)
    for (auto& block : model_.net.encoder.blocks) layers_.push_back(block->attn->make_decoder(n_));
}

std::vector<float> ByteLMDecoder::feed(int byte) {
  AZ_CHECK(byte >= 0 && byte < kByteValues, "generate: byte ", byte, " is not in [0, 256)");
  AZ_CHECK(t_ < n_, "generate: the window of ", n_, " bytes is full (start a new one)");
  NoGradGuard no_grad;
  attention::Encoder& enc = model_.net.encoder;
  Tensor logits;  // (1, 1, V)
  if (cache_) {
    // Embedding of byte t at position t: (1, 1, D); then every block on this one row, as Encoder::forward does.
    Tensor x = enc.tokens.forward(IntTensor::from_vector({1, 1}, {byte})) +
               enc.positions.forward(IntTensor::from_vector({1}, {t_}));
    for (size_t l = 0; l < layers_.size(); ++l) {
      attention::EncoderBlock& block = *enc.blocks[l];
      const Tensor h = x + layers_[l]->step(block.ln1.forward(x));  // (1, 1, D)
      x = h + block.mlp.forward(block.ln2.forward(h));
    }
    logits = model_.net.head.forward(enc.ln_final.forward(x));
  } else {
    // The whole window again, padded to n with byte 0 (causal: the padding after t does not reach row t).
    window_.push_back(byte);
    IntTensor ids({1, n_}, 0);
    std::copy(window_.begin(), window_.end(), ids.data.begin());
    const Tensor all = model_.forward(ids);  // (1, n, V)
    logits = slice(all, 1, t_, t_ + 1);
  }
  ++t_;
  std::vector<float> out(logits.data(), logits.data() + kByteValues);
  AZ_CHECK(all_finite(out.data(), static_cast<int64_t>(out.size())), "generate: the model's logits are not finite");
  return out;
}

int64_t ByteLMDecoder::state_floats() const {
  if (!cache_) return 0;  // only the window's bytes
  int64_t total = 0;
  for (const auto& layer : layers_) total += layer->state_floats();
  return total;
}

std::string ByteLMDecoder::state() const {
  if (!cache_) return "no state: the window's bytes, and the whole model again at every byte";
  return layers_.empty() ? std::string() : layers_.front()->state();
}

// ---- sampling -------------------------------------------------------------------------------------------------
int sample_byte(const std::vector<float>& logits, float temperature, int64_t top_k, Rng& rng) {
  AZ_CHECK(static_cast<int64_t>(logits.size()) == kByteValues, "sample: expected ", kByteValues, " logits, got ",
           logits.size());
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; ties go to the smaller byte, so that the order (and the text) is the same everywhere.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  if (temperature == 0.0f) return order.front();
  const size_t k = top_k > 0 ? static_cast<size_t>(std::min<int64_t>(top_k, kByteValues)) : order.size();
  // softmax(logits / T) over the k best, in double: p_i ∝ exp((l_i − l_max) / T)
  std::vector<double> p(k);
  double total = 0;
  for (size_t i = 0; i < k; ++i)
    total += p[i] = std::exp((static_cast<double>(logits[order[i]]) - logits[order[0]]) / temperature);
  double u = rng.uniform01() * total;
  for (size_t i = 0; i < k; ++i) {
    if (u < p[i]) return order[i];
    u -= p[i];
  }
  return order[k - 1];  // u landed on the rounding at the very end
}

// ---- generation -----------------------------------------------------------------------------------------------
std::string generate(ByteLM& model, const std::string& prompt, const GenerateOptions& o,
                     const std::function<void(char)>& on_byte, GenerateStats* stats) {
  AZ_CHECK(!prompt.empty(), "generate: the prompt is empty (give at least one byte to start from)");
  AZ_CHECK(o.tokens >= 1, "generate: --tokens must be >= 1, got ", o.tokens);
  AZ_CHECK(std::isfinite(o.temperature) && o.temperature >= 0, "generate: --temperature must be >= 0 (0 = greedy), got ",
           o.temperature);
  AZ_CHECK(o.top_k >= 0 && o.top_k <= kByteValues, "generate: --top-k must be in [0, 256] (0 = all), got ", o.top_k);
  check_causal_eval(model);
  const int64_t n = model.config.context;
  Stopwatch clock;
  Rng rng(o.seed);
  GenerateStats st;
  std::string text = prompt;  // everything so far: the prompt, then what is written
  // A window starts with the last bytes of text (all of the prompt if it fits, else its last n/2 — the same rule
  // as a refill) and is fed byte by byte; the last feed's logits give the next byte.
  auto open_window = [&](size_t keep) {
    auto dec = std::make_unique<ByteLMDecoder>(model, o.cache);
    std::vector<float> logits;
    for (size_t i = text.size() - keep; i < text.size(); ++i) {
      logits = dec->feed(static_cast<unsigned char>(text[i]));
      st.peak_state_floats = std::max(st.peak_state_floats, dec->state_floats());
    }
    st.fed += static_cast<int64_t>(keep);
    return std::make_pair(std::move(dec), logits);
  };
  const size_t half = static_cast<size_t>(std::max<int64_t>(1, n / 2));
  auto [dec, logits] = open_window(prompt.size() <= static_cast<size_t>(n) ? prompt.size() : half);
  for (int64_t i = 0; i < o.tokens; ++i) {
    const char c = static_cast<char>(sample_byte(logits, o.temperature, o.top_k, rng));
    text += c;
    ++st.bytes;
    if (on_byte) on_byte(c);
    if (i + 1 == o.tokens) break;  // the last byte need not be read
    if (dec->tokens() == n) {       // the window is full: go on from the last n/2 bytes
      std::tie(dec, logits) = open_window(half);
      ++st.windows;
    } else {
      logits = dec->feed(static_cast<unsigned char>(c));
      ++st.fed;
      st.peak_state_floats = std::max(st.peak_state_floats, dec->state_floats());
    }
  }
  st.state = dec->state();
  st.seconds = clock.seconds();
  if (stats) *stats = st;
  return text.substr(prompt.size());
}

}  // namespace lm

// lm/finetune.cpp — see finetune.h: a pretrained byte LM's encoder into an LRA classifier.
#include "lm/finetune.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "attention/scheme.h"
#include "core/core.h"
#include "core/state.h"
#include "lm/train.h"
#include "lra/text.h"

namespace lm {

using core::nn::NamedTensors;

attention::ModelConfig pretrained_config(const std::string& dir) { return pretrained_config(*load_model(dir)); }

attention::ModelConfig pretrained_config(const ByteLM& lm) {
  attention::ModelConfig cfg = lm.config.model;
  cfg.causal = false;  // the classifiers read the whole input
  return cfg;
}

void use_pretrained_sizes(attention::ModelConfig& model, const attention::ModelConfig& pretrained) {
  model.d_model = pretrained.d_model;
  model.n_heads = pretrained.n_heads;
  model.n_layers = pretrained.n_layers;
  model.d_ff = pretrained.d_ff;
}

namespace {

const Tensor* find(const NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return &t;
  return nullptr;
}

// "net.encoder.block3.attn." for a parameter of block 3's attention layer ("net.encoder.block3.attn.w_q.weight");
// empty for any other name.
std::string attention_layer_of(const std::string& name) {
  const std::string prefix = "net.encoder.block";
  if (name.rfind(prefix, 0) != 0) return "";
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || name.compare(dot, 6, ".attn.") != 0) return "";
  return name.substr(0, dot + 6);
}

std::string list_line(const char* what, const std::vector<std::string>& names) {
  std::ostringstream s;
  s << "  " << what << " (" << names.size() << ")";
  const size_t shown = std::min<size_t>(names.size(), 6);
  for (size_t i = 0; i < shown; ++i) s << (i ? ", " : ": ") << names[i];
  if (shown < names.size()) s << ", ... (" << names.size() - shown << " more)";
  return s.str();
}

}  // namespace

InitReport init_classifier(lra::Classifier& model, const std::string& dir, TokenMap map) {
  return init_classifier(model, *load_model(dir), dir, map);  // one-line errors for a missing or damaged directory
}

InitReport init_classifier(lra::Classifier& model, const ByteLM& lm, const std::string& dir, TokenMap map) {
  InitReport r;
  r.dir = dir;
  r.pretrained = lm.config;
  const attention::ModelConfig& a = lm.config.model;
  const attention::ModelConfig& b = model.config;
  const std::string where = "lra --init " + dir;
  // 1. The sizes must be the same: the blocks' matrices are (d_model, d_model), (d_ff, d_model), ...
  AZ_CHECK(a.d_model == b.d_model, where, ": the pretrained model has d_model ", a.d_model, ", this one ", b.d_model);
  AZ_CHECK(a.n_heads == b.n_heads, where, ": the pretrained model has n_heads ", a.n_heads, ", this one ", b.n_heads);
  AZ_CHECK(a.n_layers == b.n_layers, where, ": the pretrained model has n_layers ", a.n_layers, ", this one ",
           b.n_layers);
  AZ_CHECK(a.d_ff == b.d_ff, where, ": the pretrained model has d_ff ", a.d_ff, ", this one ", b.d_ff);
  // 2. The vocabulary: the LM reads bytes; only the byte tasks (PAD 0, byte b -> b + 1) read them too — or the LM
  // was self-pretrained on this task's own ids, which then keep their rows.
  if (map == TokenMap::bytes) {
    AZ_CHECK(b.vocab == lra::text::kVocab, where, ": the pretrained model reads bytes; this task's tokens are not ",
             "bytes (vocabulary ", b.vocab, "; --init needs a byte task: text or retrieval)");
  } else {
    AZ_CHECK(b.vocab <= kByteValues, where, ": a self-pretrained LM has ", kByteValues, " token rows; this task has ",
             b.vocab, " token ids");
  }

  const std::string to = model.is_pair() ? "pair.encoder." : "single.encoder.";
  const attention::Scheme& scheme = attention::find_scheme(b.scheme);
  const attention::Config scheme_config = scheme.configure(b.set, false, b.seed);
  const NamedTensors lm_state = core::nn::state_of(lm);
  NamedTensors saved;
  saved.reserve(lm_state.size());
  const NamedTensors mine = core::nn::state_of(model);
  for (const auto& [name, t] : lm_state) {
    if (name == "net.encoder.tokens.weight") {
      // (vocab_lm, d) -> (257, d): LM row b -> row b + 1; row 0 (PAD) keeps the classifier's initial values
      const Tensor* target = find(mine, to + "tokens.weight");
      AZ_CHECK(target != nullptr, where, ": the classifier has no token embedding '", to, "tokens.weight'");
      Tensor mapped = target->detach().clone();
      const int64_t d = t.size(1);
      if (map == TokenMap::bytes) {
        std::copy_n(t.data(), kByteValues * d, mapped.data() + d);
        r.tokens = "LM row b (byte b) -> row b + 1 for the 256 bytes; row 0 (PAD) freshly initialised" +
                   std::string(t.size(0) > kByteValues ? "; the [MASK] row is not used" : "");
      } else {  // (vocab, d) <- the LM's first vocab rows: id i was byte i of the LM's corpus
        std::copy_n(t.data(), b.vocab * d, mapped.data());
        r.tokens = "LM row i -> row i for the task's " + std::to_string(b.vocab) +
                   " token ids (self-pretrained on them)";
      }
      saved.emplace_back(name, mapped);
    } else if (name == "net.encoder.positions.weight") {
      // (context, d) -> (max_len, d): the first max_len rows, or the rows repeated (Longformer's copy)
      const Tensor* target = find(mine, to + "positions.weight");
      AZ_CHECK(target != nullptr, where, ": the classifier has no position embedding '", to, "positions.weight'");
      const int64_t rows = t.size(0), d = t.size(1), need = target->size(0);
      Tensor mapped = Tensor::zeros({need, d});
      for (int64_t row = 0; row < need; ++row) std::copy_n(t.data() + (row % rows) * d, d, mapped.data() + row * d);
      saved.emplace_back(name, mapped);
      std::ostringstream s;
      if (need <= rows) {
        s << "the first " << need << " of the " << rows << " learned rows";
      } else {
        s << "the " << rows << " learned rows copied " << (need + rows - 1) / rows << " times to fill " << need
          << " (Longformer's recipe: row t takes row t mod " << rows << ")";
      }
      r.positions = s.str();
    } else if (const std::string layer = attention_layer_of(name); !layer.empty() &&
               find(mine, to + name.substr(std::string("net.encoder.").size())) == nullptr) {
      // an attention parameter this scheme's layer does not have under its name (another scheme pretrained it):
      // the scheme says where it goes (star: every cycle's projections), under one name or several
      const std::vector<std::string> targets = scheme.carry_names(name.substr(layer.size()), scheme_config);
      if (targets.empty()) saved.emplace_back(name, t);  // reported as not used
      for (const std::string& target : targets) saved.emplace_back(layer + target, t);
    } else {
      saved.emplace_back(name, t);
    }
  }
  const core::nn::Carried c = core::nn::carry_over(model, saved, {{"net.encoder.", to}}, where);
  r.carried = c.carried;
  r.fresh = c.fresh;
  r.reshaped = c.reshaped;
  r.unused = c.unused;
  return r;
}

TokenMap self_token_map(const lra::Dataset& train) {
  return train.vocab == lra::text::kVocab ? TokenMap::bytes : TokenMap::same_ids;
}

corpora::Corpus task_corpus(const lra::Dataset& train) {
  corpora::Corpus c;
  c.name = "self:" + train.task;
  const bool bytes = self_token_map(train) == TokenMap::bytes;  // id = byte + 1: give the bytes back
  c.source = "the training inputs of " + train.task + " (" + std::to_string(train.size()) + " of them), " +
             (bytes ? "their bytes" : "one byte per token id");
  bool padded = false;  // inputs of different lengths (ListOps) are separated by PAD; fixed-length ones are not
  for (int64_t i = 0; i < train.size(); ++i) padded = padded || train.inputs[i].size() != train.inputs[0].size();
  padded = padded && !bytes;  // text runs on from passage to passage
  auto append = [&](const lra::Sequence& seq) {
    for (const lra::Token id : seq) {
      const lra::Token b = bytes ? id - 1 : id;
      AZ_CHECK(b >= 0 && b < kByteValues, "self-pretraining: ", train.task, " has token id ", id,
               ", which is not one byte");
      c.text += static_cast<char>(static_cast<unsigned char>(b));
    }
    if (padded) c.text += static_cast<char>(static_cast<unsigned char>(train.pad_id));
  };
  for (int64_t i = 0; i < train.size(); ++i) {
    append(train.inputs[i]);
    if (train.pair) append(train.inputs2[i]);
  }
  return c;
}

std::unique_ptr<ByteLM> self_pretrain(const lra::Dataset& train, const attention::ModelConfig& model,
                                      const SelfPretrainOptions& o, TrainResult* result) {
  const corpora::Corpus corpus = task_corpus(train);
  TrainOptions t;
  t.lm.model = model;
  t.lm.masked = false;
  t.lm.context = model.max_len > 0 ? std::min(model.max_len, train.longest()) : train.longest();
  t.steps = o.steps;
  t.batch_size = o.batch_size;
  t.lr = o.lr;
  t.seed = o.seed;
  t.eval_every = std::max<int64_t>(1, std::min<int64_t>(o.steps, 100));
  t.eval_bytes = 1 << 15;
  t.out_dir = o.out_dir;
  t.label = o.label;
  t.progress = o.progress;
  t.progress_stream = o.progress_stream;
  const corpora::TextSplits splits = corpora::split(corpus.text, 0.90, 0.05, t.lm.context + 1);
  t.lm.model.seed = o.seed;
  auto lm = std::make_unique<ByteLM>(t.lm);
  const TrainResult r = lm::train(*lm, splits, corpus, t);
  if (result) *result = r;
  return lm;
}

std::string describe(const InitReport& r) {
  std::ostringstream s;
  s << "init from " << r.dir << ": a " << (r.pretrained.masked ? "masked" : "causal") << " byte LM, "
    << r.pretrained.model.scheme << ", context " << r.pretrained.context << ", d_model " << r.pretrained.model.d_model
    << ", " << r.pretrained.model.n_layers << (r.pretrained.model.n_layers == 1 ? " layer\n" : " layers\n");
  s << "  token embeddings: " << r.tokens << "\n";
  s << "  position embeddings: " << r.positions << "\n";
  s << list_line("carried over", r.carried) << "\n";
  s << list_line("freshly initialised", r.fresh) << "\n";
  if (!r.reshaped.empty()) s << list_line("freshly initialised, shape differs", r.reshaped) << "\n";
  s << list_line("pretrained, not used", r.unused) << "\n";
  return s.str();
}

}  // namespace lm

// lm/finetune.h — fine-tuning: a classifier of the Long Range Arena's byte tasks (lra/train.h) starts from a
// language model that `attnzoo lm train` pretrained (its embeddings and blocks), with a new head. This is how
// Longformer and BigBird started from RoBERTa, and the "pretraining helps" experiment of the course.
//
//   attention::ModelConfig cfg = lm::pretrained_config("out/lm/runs/long/flash_n256");  // sizes of the LM
//   cfg.scheme = "longformer";  cfg.set = {"window=64"};   // the scheme may differ from the pretrained one
//   lra::Classifier model(cfg, data.train);                // a byte task: text or retrieval
//   lm::InitReport rep = lm::init_classifier(model, "out/lm/runs/long/flash_n256");
//   std::cout << lm::describe(rep);                        // what was carried, what is new, what was left
//   lra::train(model, data, options);
//
// What carries over, tensor by tensor (names of core/nn: "net.encoder.X" in the LM is "single.encoder.X" or, for
// a pair task's shared encoder, "pair.encoder.X" in the classifier):
//   token embeddings   the LM reads byte b as id b; the byte tasks as id b + 1 (0 is PAD). Row b of the LM goes
//                      to row b + 1; the PAD row keeps its fresh initialisation (padding is masked anyway). A
//                      masked LM's [MASK] row has no place and is listed as unused.
//   positions          the LM learned `context` rows. A classifier with max_len <= context takes the first
//                      max_len rows. A longer one is Longformer's recipe (Beltagy et al. 2020, §5 "Position
//                      Embeddings": "we initialize them by copying the 512 position embeddings from RoBERTa
//                      multiple times"; their Tab. 5: MLM 10.299 BPC with random new rows, 1.957 with the copy,
//                      before any update): row t takes the LM's row t mod context, so the local structure the
//                      positions learned holds everywhere but at the seams; training then adapts them.
//   blocks, final LN   by name and shape. Parameters or buffers the new scheme adds (e.g. Linformer's projections
//                      E, F; routing's centroids) are freshly initialised and listed; tensors of the pretrained
//                      scheme the new one lacks are listed as unused. A scheme tensor whose shape depends on n
//                      (Linformer's E is (k, n)) is listed as re-initialised when n changed.
//   head               always new: the LM's head predicts bytes, the classifier's predicts classes.
// Refused, with one line naming the mismatch, before anything is written: d_model, heads, layers or d_ff that
// differ from the LM's; a task that is not byte-level (vocabulary 257 with PAD 0: text, retrieval — ListOps and
// the image tasks have other tokens); a missing or damaged model directory (lm::load_model's errors).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attention/transformer.h"
#include "corpora/corpus.h"
#include "lm/model.h"
#include "lm/train.h"
#include "lra/train.h"

namespace lm {

// The encoder sizes of the LM in DIR (d_model, n_heads, n_layers, d_ff, dropout) with its scheme and settings;
// vocab and max_len are the classifier's business (lra::Classifier takes them from the data).
attention::ModelConfig pretrained_config(const std::string& dir);
// The same from a model already loaded (lm::load_model), so that a caller reads DIR once.
attention::ModelConfig pretrained_config(const ByteLM& lm);
// A classifier config with the pretrained encoder's sizes (d_model, n_heads, n_layers, d_ff) and everything else
// (scheme, settings, seed, vocab, max_len) kept: what fine-tuning must match for the blocks to carry over.
void use_pretrained_sizes(attention::ModelConfig& model, const attention::ModelConfig& pretrained);

struct InitReport {
  std::string dir;                    // where the pretrained model came from
  LMConfig pretrained;                // its config (scheme, objective, context, sizes)
  std::vector<std::string> carried;   // classifier tensors that received pretrained values
  std::vector<std::string> fresh;     // classifier tensors with no pretrained counterpart (head, new scheme's)
  std::vector<std::string> reshaped;  // same name, other shape: freshly initialised ("name: saved (..), model (..)")
  std::vector<std::string> unused;    // pretrained tensors with no place (LM head, the old scheme's extras)
  std::string tokens;                 // how the token embeddings were mapped (one sentence)
  std::string positions;              // how the position embeddings were mapped (one sentence)
};

// How the LM's token rows map to the classifier's: `bytes` for an LM of text read by a byte task (row b -> b + 1,
// see above); `same_ids` for an LM self-pretrained on this task's own token ids (self_pretrain below: row i -> row
// i, for every task whose vocabulary fits in the LM's 256 rows — ListOps, Pathfinder, the image tasks).
enum class TokenMap { bytes, same_ids };

// Loads DIR's model and writes what carries over into `model` (see above). Throws core::Error (one line) on a
// mismatch; the model is unchanged then.
InitReport init_classifier(lra::Classifier& model, const std::string& dir, TokenMap map = TokenMap::bytes);
// The same from a model already loaded from `dir` (dir only names it in messages and in the report).
InitReport init_classifier(lra::Classifier& model, const ByteLM& lm, const std::string& dir,
                           TokenMap map = TokenMap::bytes);

// ---- self-pretraining ---------------------------------------------------------------------------------------
// "Never train from scratch" (Amos, Berant and Gupta 2023, arXiv 2310.02980): before fine-tuning, pretrain the
// model as a causal LM on the task's OWN training inputs (no labels, nothing else) — the ListOps tokens, the
// Pathfinder pixels. Their finding: it closed most of the gap between Transformers and state-space models on the
// Long Range Arena. Then init_classifier(model, lm, dir, TokenMap::same_ids).
//
// The corpus: every training input's token ids, one byte each, in order; for a task with padding (variable
// length, e.g. ListOps) each input is followed by its PAD id as a separator, for a fixed-length one (Pathfinder:
// id = gray value, 0 is black, not padding) they simply follow each other. Split 90/5/5 % by contiguous ranges for
// the LM's own validation and test. Tokens >= 256 are refused (one line). A byte task (text, retrieval: id =
// byte + 1, PAD 0) gives its bytes back, passages one after the other: the LM then reads text, as any LM of ours.
corpora::Corpus task_corpus(const lra::Dataset& train);
// How a model self-pretrained on `train`'s inputs maps into its classifier: bytes for a byte task, same ids else.
TokenMap self_token_map(const lra::Dataset& train);

struct SelfPretrainOptions {
  int64_t steps = 500;
  int64_t batch_size = 16;
  float lr = 2e-3f;
  uint64_t seed = 0;
  std::string out_dir;            // where the LM's model, log and curves go (empty: nowhere)
  std::string label = "self-pretraining";
  lra::ProgressMode progress = lra::ProgressMode::Auto;
  std::ostream* progress_stream = nullptr;
};

// A causal LM with the classifier's encoder (scheme, settings, sizes; context = the longest training input, at
// most model.max_len when it is set), trained on task_corpus(train). Returns the model (best validation
// checkpoint) and fills *result when given.
std::unique_ptr<ByteLM> self_pretrain(const lra::Dataset& train, const attention::ModelConfig& model,
                                      const SelfPretrainOptions& o, TrainResult* result = nullptr);

// A few lines for the console and the run's directory: the two mappings, then the carried / fresh / reshaped /
// unused tensors (long lists shortened to their count and first names).
std::string describe(const InitReport& r);

}  // namespace lm

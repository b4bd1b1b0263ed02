// %% [markdown]
// # 17 · Pretraining on real text: bytes, bits, and a language model that is a compressor
//
// Every lesson so far fed attention random q, k, v or a synthetic task. The papers of this course did not: Sparse
// Transformer, Reformer, Longformer and the Routing Transformer were measured as *character-level language
// models* (enwik8, text8, PG-19), Linformer and BigBird by the *masked-LM perplexity* of their pretraining. This
// lesson trains a language model on real English — the King James Bible, 4.3 MB from the Debian package
// bible-kjv (`make deps-text`) — and measures it the way those papers did, in bits per byte.
//
// - Step 1: the text as bytes, and its train / valid / test split.
// - Step 2: bits per byte of two counting models (how often each byte comes; which byte follows which).
// - Step 3: a language model is a compressor: gzip, bzip2 and xz on the same test text.
// - Step 4: a Transformer language model trained live (lm::train), scored on the test split.
// - Step 5: where the trained heads look on a real sentence (heatmaps with the characters, distances, a page).
// - Step 6: does a longer context help? From `make lm` when it has run, otherwise measured small, here.
// - Step 7: your run (EXERCISE): predict whether it beats counting.
//
// Legend: B = batch, n = context (bytes a model reads at once), V = 256 byte values. bpc = bits per byte.
// %%
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lessons/byte_lm.h"
#include "lessons/lesson.h"
#include "lm/attention_maps.h"
#include "lm/compressors.h"
#include "corpora/corpus.h"
#include "lm/train.h"

using core::Tensor;
namespace img = plot;

// Step 7's exercise: a training run, and your prediction. Your version is the EXERCISE block in main; the
// reference solution and a known-wrong answer are in lessons/solutions/17_pretraining_on_text.h.
struct MyRun {
  std::string scheme = "flash";
  std::vector<std::string> settings;  // the scheme's key=value settings
  int64_t context = 64;               // n
  int64_t steps = 40;                 // optimiser steps of 8 windows each
  bool predicted_beats_unigram = true;  // will its test bpc be below the byte-counting model's?
};
#include "lessons/solutions/17_pretraining_on_text.h"

namespace {

// The cost in bits per byte of `test` under byte frequencies counted on `train` (add-one smoothing: a byte never
// seen still costs something finite).
double unigram_bpc(const std::string& train, const std::string& test) {
  std::array<double, 256> count{};
  for (unsigned char c : train) count[c] += 1;
  double bits = 0;
  for (unsigned char c : test) bits -= std::log2((count[c] + 1) / (train.size() + 256.0));
  return bits / test.size();
}

// The same with one byte of context: how often byte b follows byte a in train.
double bigram_bpc(const std::string& train, const std::string& test) {
  std::vector<double> pair(256 * 256, 0.0), first(256, 0.0);
  for (size_t i = 0; i + 1 < train.size(); ++i) {
    const unsigned char a = train[i], b = train[i + 1];
    pair[a * 256 + b] += 1;
    first[a] += 1;
  }
  double bits = 0;
  for (size_t i = 0; i + 1 < test.size(); ++i) {
    const unsigned char a = test[i], b = test[i + 1];
    bits -= std::log2((pair[a * 256 + b] + 1) / (first[a] + 256));
  }
  return bits / (test.size() - 1);
}

}  // namespace

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "17_pretraining_on_text");
  const bool quick = L.quick();

  // %% [markdown]
  // ## Step 1 · the text as bytes
  // A byte-level model reads the file exactly as it is: 256 possible values, no tokenizer, nothing lost
  // (enwik8 and the Long Range Arena's text task do the same). The split is by contiguous ranges — train the first
  // 90 %, valid the next 5 %, test the last 5 % — so the test text is one passage the model never saw (the end of
  // the New Testament), not verses sprinkled among the training ones.
  // %%
  L.step("Step 1 · the King James Bible as bytes");
  const corpora::Corpus corpus = corpora::load_corpus("kjv");  // one line saying what to install when it is missing
  const corpora::TextSplits full_split = corpora::split(corpus.text);
  L.say("corpus: ", corpus.source);
  L.say(corpus.text.size(), " bytes: train ", full_split.train.size(), ", valid ", full_split.valid.size(), ", test ",
        full_split.test.size(), " (contiguous 90 / 5 / 5 %)");
  L.say("the first 120 bytes: \"", lesson::one_line(corpus.text.substr(0, 120)), "\"");
  L.say("the test split starts: \"", lesson::one_line(full_split.test.substr(0, 100)), "\"");
  std::array<int64_t, 256> seen{};
  for (unsigned char c : corpus.text) seen[c] = 1;
  int64_t distinct = 0;
  for (int64_t s : seen) distinct += s;
  L.say("distinct byte values in the text: ", distinct, " of 256");
  L.check("the three splits put together give the text back, in order",
          full_split.train + full_split.valid + full_split.test == corpus.text);
  // --quick works on a slice (the last 1 MB of train, the first 64 KB of valid and test) to stay within seconds.
  corpora::TextSplits split = full_split;
  if (quick) {
    split.train = full_split.train.substr(full_split.train.size() - (1 << 20));
    split.valid = full_split.valid.substr(0, 1 << 16);
    split.test = full_split.test.substr(0, 1 << 16);
    L.say("--quick: train on the last 1 MB of the train split, test on the first 64 KB of the test split");
  }

  // %% [markdown]
  // ## Step 2 · bits per byte, by counting
  // A model that gives byte b the probability p(b) spends −log₂ p(b) bits on it: the ideal code length, which an
  // arithmetic coder reaches within a few bytes for the whole file. Averaged over the test text, that is the
  // model's **bits per byte** — its cross-entropy in bits. 8 bits per byte is knowing nothing; counting how often
  // each byte comes (a unigram model) already knows that 'e' and ' ' are common; counting which byte follows which
  // (a bigram model) knows that 'q' is followed by 'u'. Every extra byte of context a model can use should lower
  // the number — that is what attention is for.
  // %%
  L.step("Step 2 · bits per byte of two counting models");
  const double uni = unigram_bpc(split.train, split.test), bi = bigram_bpc(split.train, split.test);
  L.say("unigram (byte frequencies of train):      ", lesson::fixed(uni, 3), " bits per byte");
  L.say("bigram  (which byte follows which):       ", lesson::fixed(bi, 3), " bits per byte");
  L.check("counting byte frequencies beats knowing nothing (< 8 bits per byte)", uni < 8.0,
          lesson::fixed(uni, 3) + " bits per byte");
  L.check("one byte of context beats none: the bigram costs less than the unigram", bi < uni,
          lesson::fixed(bi, 3) + " < " + lesson::fixed(uni, 3));

  // %% [markdown]
  // ## Step 3 · a language model is a compressor
  // A compressor is a model of its input plus a coder. So we can ask gzip, bzip2 and xz the same question: how many
  // bits do they spend on the test text once they have read the training text? (Compress train + test, subtract
  // what train alone costs.) gzip sees 32 KB back, bzip2 sorts 900 KB blocks, xz finds matches megabytes back with
  // a context model of the bytes after them. A language model that beats xz has learned more about English (and
  // this book) than a match finder can.
  // %%
  L.step("Step 3 · the compressors on the same test text");
  const std::vector<lm::CompressorResult> compressors = lm::compressor_results(split.train, split.test);
  lesson::Table t({"model", "bits per byte", "how"}, 10);
  t.row({"unigram", lesson::fixed(uni, 3), "byte counts"});
  t.row({"bigram", lesson::fixed(bi, 3), "pair counts"});
  double best_compressor = 8;
  for (const lm::CompressorResult& c : compressors) {
    t.row({c.setting, lesson::fixed(c.bits_per_byte, 3), "in-process (zlib, libbz2, liblzma), given the train split"});
    best_compressor = std::min(best_compressor, c.bits_per_byte);
  }
  double gzip = 8;
  for (const lm::CompressorResult& c : compressors)
    if (c.name == "gzip") gzip = c.bits_per_byte;
  L.check("every compressor beats the unigram count (they use context: repeats, sorted contexts)",
          std::all_of(compressors.begin(), compressors.end(), [&](const lm::CompressorResult& c) {
            return c.bits_per_byte < uni;
          }));
  L.check("the block-sorting and LZMA compressors beat gzip's 32 KB window",
          std::all_of(compressors.begin(), compressors.end(),
                      [&](const lm::CompressorResult& c) { return c.name == "gzip" || c.bits_per_byte < gzip; }));

  // %% [markdown]
  // ## Step 4 · a Transformer language model, trained live
  // A decoder-only (causal) Transformer reads n bytes and predicts, at every position, the next byte from the ones
  // before it (lm/model.h). We train one with exact attention (flash) for a few hundred steps — minutes, where the
  // papers trained for days — with the course's trainer: AdamW, warmup + cosine, clipping, the checkpoint with the
  // best validation bits per byte scored on the test split. The same run from the command line:
  //   build/attnzoo lm train --corpus kjv --scheme flash --context 128 --steps 400 --d-model 64 --layers 2
  // %%
  L.step("Step 4 · a causal Transformer LM, trained live");
  lm::TrainOptions run = lesson::small_byte_lm(quick ? 64 : 128, quick ? 50 : 400, quick ? 8 : 16, L.seed());
  run.out_dir = L.dir() + "/model";
  run.label = "flash n=" + std::to_string(run.lm.context);
  const lm::TrainResult r = lm::train(split, corpus, run);
  L.say("test ", lesson::fixed(r.test_bpc, 3), " bits per byte after ", r.steps, " steps (", r.steps * run.batch_size *
        run.lm.context, " training bytes; ", lesson::fixed(r.tokens_per_s, 0), " bytes/s on this machine)");
  L.show(lm::curves_image(r), "curves.png",
         "training and validation bits per byte of the live model vs step; the best validation step is marked");
  L.check("training lowered the bits per byte (first logged training bpc > test bpc of the best checkpoint)",
          r.log.front().train_bpc > r.test_bpc + 0.5,
          lesson::fixed(r.log.front().train_bpc, 3) + " -> " + lesson::fixed(r.test_bpc, 3));
  L.check("the model beats the unigram count: it uses its context", r.test_bpc < uni,
          lesson::fixed(r.test_bpc, 3) + " < " + lesson::fixed(uni, 3));
  L.say(r.test_bpc < bi ? "it also beats the bigram count (" + lesson::fixed(bi, 3) + ")"
                        : "it does not beat the bigram count yet (" + lesson::fixed(bi, 3) +
                              "): a few hundred small steps are not enough; `make lm` trains longer");
  L.say(r.test_bpc < best_compressor ? "and it beats the best compressor (" + lesson::fixed(best_compressor, 3) + ")"
                                     : "the best compressor (" + lesson::fixed(best_compressor, 3) +
                                           ") is still ahead: it read the whole 3.9 MB training text at once");
  const std::unique_ptr<lm::ByteLM> back = lm::load_model(run.out_dir);
  const double again = lm::evaluate_bpc(*back, split.test).bpc;
  L.check("the saved model (model.safetensors + config.json) loads back and scores the same",
          std::fabs(again - r.test_bpc) < 1e-6, lesson::fixed(again, 6) + " vs " + lesson::fixed(r.test_bpc, 6));

  // %% [markdown]
  // ## Step 5 · where the trained heads look
  // The saved model reads a passage of the test split; every layer's attention weights are kept (lm/attention_maps.h)
  // and drawn with the characters on the axes: row i is what byte i looks at. The *mean attention distance* of a
  // head — how many bytes back its weight sits on average — sorts near heads (the previous characters, the start of
  // the word) from far ones. attention.html is the interactive version: hover a character to see where it looks.
  // %%
  L.step("Step 5 · the heads of the trained model on a real sentence");
  const std::string passage = split.test.substr(0, std::min<size_t>(64, split.test.size()));
  const lm::AttentionMaps maps = lm::capture_attention(*back, passage, "flash, trained in step 4");
  const Tensor distance = lm::distance_grid(maps);  // (L, H)
  int64_t near_l = 0, near_h = 0, far_l = 0, far_h = 0;
  for (int64_t l = 0; l < maps.layers(); ++l)
    for (int64_t h = 0; h < maps.heads(); ++h) {
      const float d = distance.at({l, h});
      if (d < distance.at({near_l, near_h})) near_l = l, near_h = h;
      if (d > distance.at({far_l, far_h})) far_l = l, far_h = h;
    }
  L.say("the passage: \"", lesson::one_line(passage), "\"");
  for (int64_t l = 0; l < maps.layers(); ++l) {
    std::string row;
    for (int64_t h = 0; h < maps.heads(); ++h) row += " " + lesson::fixed(distance.at({l, h}), 1);
    L.say("layer ", l, ": mean attention distance per head (bytes back):", row);
  }
  L.say("(uniform attention over the earlier bytes would give ", lesson::fixed((passage.size() - 1) / 4.0, 2),
        " on this passage; the nearest head is layer ", near_l, " head ", near_h, ", the farthest layer ", far_l,
        " head ", far_h, ")");
  const double uniform = (passage.size() - 1) / 4.0;
  L.say(distance.at({near_l, near_h}) > 0.8 * uniform
            ? "every head still looks almost uniformly over the earlier bytes: the model has not trained long enough "
              "for heads to specialise (in a 500-step run of this model at n = 128, the last layer's heads looked 10 "
              "to 18 bytes back, against 32 for uniform attention)"
            : "the near head has specialised: its weight gathers on a few earlier positions (bright columns in "
              "head_near.png, often where a word or a phrase begins) instead of spreading evenly; compare the far "
              "head's heatmap");
  L.show(lm::head_heatmap(maps, near_l, near_h), "head_near.png",
         "the nearest-looking head of the trained model on a test passage: row i = where byte i looks (causal: only "
         "left of the diagonal)");
  L.show(lm::head_heatmap(maps, far_l, far_h), "head_far.png", "the farthest-looking head on the same passage");
  L.show(lm::distance_figure({maps}), "distance.png", "mean attention distance of every layer's heads, in bytes");
  lm::write_attention_page(L.dir() + "/attention.html", {maps}, "lesson 17: the model trained in step 4");
  L.say("interactive: ", L.dir(), "/attention.html (hover a character)");
  double worst_row = 0, future = 0;
  for (int64_t l = 0; l < maps.layers(); ++l)
    for (int64_t h = 0; h < maps.heads(); ++h) {
      const Tensor A = maps.head(l, h);  // (n, n)
      for (int64_t i = 0; i < A.size(0); ++i) {
        double sum = 0;
        for (int64_t j = 0; j < A.size(1); ++j) {
          sum += A.at({i, j});
          if (j > i) future += std::fabs(A.at({i, j}));
        }
        worst_row = std::max(worst_row, std::fabs(sum - 1));
      }
    }
  L.check("every head's rows are probabilities (sum to 1)", worst_row < 1e-4, "worst |sum - 1| = " +
          lesson::sig(worst_row, 2));
  L.check("a causal model puts no weight on a later byte", future == 0.0, "total weight on later bytes " +
          lesson::sig(future, 2));

  // %% [markdown]
  // ## Step 6 · does a longer context help?
  // The papers' headline claim: an efficient scheme lets a model read further back, and reading further back
  // lowers the bits per byte. `make lm` measures it for eight schemes at contexts 128 … 4096 with the same
  // training budget (out/lm/context.md, context.png). When it has not run, we measure the smallest version here:
  // the same model at two contexts, the same number of training bytes.
  // %%
  L.step("Step 6 · longer context vs bits per byte");
  const std::string context_md = "out/lm/context.md";
  if (!quick && std::filesystem::exists(context_md)) {
    std::ifstream in(context_md);
    std::stringstream s;
    s << in.rdbuf();
    L.say("from `make lm` (", context_md, "):\n", s.str());
  } else {
    const int64_t budget = quick ? 40960 : 409600;  // training bytes per run
    std::vector<std::pair<int64_t, double>> by_context;
    for (int64_t n : {int64_t(16), quick ? int64_t(64) : int64_t(256)}) {
      const int64_t batch = std::max<int64_t>(1, 1024 / n);
      lm::TrainOptions o = lesson::small_byte_lm(n, budget / (batch * n), batch, L.seed());
      o.progress = lra::ProgressMode::Quiet;
      const lm::TrainResult rr = lm::train(split, corpus, o);
      by_context.push_back({n, rr.test_bpc});
      L.say("context ", n, ": test ", lesson::fixed(rr.test_bpc, 3), " bits per byte (", o.steps, " steps of ", batch,
            " windows)");
    }
    L.say(by_context[1].second < by_context[0].second
              ? "the longer context helped at the same budget"
              : "the longer context did not help at this tiny budget: its model has more to learn before the far bytes "
                "pay off (run `make lm` for the real sweep)");
    L.check("both contexts beat the unigram count", by_context[0].second < uni && by_context[1].second < uni);
  }

  // %% [markdown]
  // ## Step 7 · your run
  // Choose a scheme (any with a causal variant: `build/attnzoo list`), its settings, a context and a number of
  // steps, and PREDICT whether the test bits per byte will be below the unigram count of Step 2. The self-check
  // trains it (8 windows per step) and compares.
  // %%
  L.step("Step 7 · your run (EXERCISE)");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  MyRun my_run;
  my_run.scheme = "flash";
  my_run.context = 64;
  my_run.steps = 40;
  my_run.predicted_beats_unigram = true;
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyRun answer = L.exercise(my_run, solution::run(), solution::wrong_run());
  std::string problem;
  try {
    const attention::Scheme& s = attention::find_scheme(answer.scheme);
    if (!s.supports_causal()) problem = answer.scheme + " has no causal variant: " + s.causal_refusal();
    else s.configure(answer.settings, true);
  } catch (const core::Error& e) {
    problem = e.what();
  }
  if (problem.empty() && (answer.context < 2 || answer.context > 1024))
    problem = "a context of 2 to 1024 bytes, please (got " + std::to_string(answer.context) + ")";
  if (problem.empty() && (answer.steps < 1 || answer.steps > 2000))
    problem = "1 to 2000 steps, please (got " + std::to_string(answer.steps) + ")";
  if (L.exercise_check("your run is one the library can train", problem.empty(), "", problem)) {
    lm::TrainOptions o = lesson::small_byte_lm(answer.context, answer.steps, 8, L.seed());
    o.lm.model.scheme = answer.scheme;
    o.lm.model.set = answer.settings;
    o.label = "your " + answer.scheme + " n=" + std::to_string(answer.context);
    o.progress = lra::ProgressMode::Quiet;
    const lm::TrainResult yours = lm::train(split, corpus, o);
    const bool beats = yours.test_bpc < uni;
    L.say("your run: ", answer.scheme, " n = ", answer.context, ", ", answer.steps, " steps: test ",
          lesson::fixed(yours.test_bpc, 3), " bits per byte (unigram ", lesson::fixed(uni, 3), ")");
    L.exercise_check("your prediction of whether your model beats the unigram count",
                     beats == answer.predicted_beats_unigram,
                     std::string("predicted ") + (answer.predicted_beats_unigram ? "yes" : "no") + ", measured " +
                         lesson::fixed(yours.test_bpc, 3) + " vs " + lesson::fixed(uni, 3),
                     beats ? "it does: a few dozen steps are enough to learn more than byte frequencies"
                           : "it does not: a model starts at 8 bits per byte and must first learn the byte "
                             "frequencies themselves; with too few steps (or a learning rate that never warms up) "
                             "it is still above them");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Step 7: what is the fewest number of steps with which flash at n = 64 beats the unigram count? And the
  //    bigram count?
  // 2. Train longformer (--set window=16) and flash at the same context and budget from the command line
  //    (`build/attnzoo lm train ...`): which is faster per byte, and which reaches the lower bits per byte?
  // 3. Run `build/attnzoo lm train --corpus fortunes ...`: why are fortunes harder to predict than the Bible?
  // 4. Train a masked LM (--mlm) with linformer: why can its bits per byte not be compared with the compressors'?
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}

// lm/attention_maps.h — where a trained byte-level language model looks: every layer's and head's attention
// on one passage of real text, how far each head reaches, and pictures of both (PNG figures and a
// self-contained interactive page).
//
//   std::unique_ptr<lm::ByteLM> m = lm::load_model("out/lm/longformer");
//   lm::AttentionMaps a = lm::capture_attention(*m, passage, "longformer window=16");
//   a.weights[l]                          // (H, n, n): row i = what query i puts on each key j (sums to 1)
//   lm::distance_grid(a)                  // (L, H): the mean attention distance of every head, in bytes
//   plot::save_png(lm::head_heatmap(a, 1, 0), "head.png");
//   lm::write_attention_page("attention.html", {a, b});
//
// The matrices come from the layers themselves (AttentionLayer::attention_weights): each layer sees what it sees
// in the model's forward pass, ln1(x) of its block (pre-LN, attention/transformer.h). For Linformer the matrix is
// P̄·F, what its k projected values imply on the n bytes: its rows need not sum to 1 and may be negative.
//
// Mean attention distance of a head (as in Dosovitskiy et al. 2021, ViT, Fig. 7, there in pixels): the mean over
// queries i of sum_j A_ij |i - j|, here in bytes. Near heads (a few bytes) read the word they are in; far heads
// (tens of bytes) reach back to earlier lines. A causal model's distances only look back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "lm/model.h"
#include "plot/canvas.h"

namespace lm {

struct AttentionMaps {
  std::string label;    // what the figures call the model, e.g. "longformer window=16"
  std::string passage;  // the n bytes the model read
  bool causal = false;
  std::vector<Tensor> weights;  // one per layer: (H, n, n)
  int64_t layers() const { return static_cast<int64_t>(weights.size()); }
  int64_t heads() const { return weights.empty() ? 0 : weights[0].size(0); }
  int64_t n() const { return static_cast<int64_t>(passage.size()); }
  Tensor head(int64_t layer, int64_t h) const;  // (n, n); throws on a layer or head out of range
};

// "scheme key=value ..., causal|masked LM": a label for a model from its config.
std::string model_label(const ByteLM& model);

// Runs the model (eval mode, no graph; the training flag is restored) on the bytes of `passage` (1 <= n <=
// context) and keeps every layer's attention weights. Throws core::Error when the passage does not fit, or when
// the scheme's layer has no n×n matrix (Star).
AttentionMaps capture_attention(ByteLM& model, const std::string& passage, const std::string& label = "");

// A (..., n, n) -> (...): for every matrix, the mean over its rows i of sum_j A_ij |i - j|. Rows are weighted as
// |A_ij| / sum_j |A_ij| (the same for the usual rows, which sum to 1), so Linformer's signed P̄·F gives a distance
// too; rows that are all 0 (routing's unrouted queries) are left out of the mean.
Tensor mean_attention_distance(const Tensor& A);
// (L, H): mean_attention_distance of every layer's heads.
Tensor distance_grid(const AttentionMaps& maps);

// A character's tick label: printable ASCII as itself, space '_', newline '|', others '?'.
std::string char_label(char c);

// One head's n×n matrix with the passage's characters along both axes (queries down, keys across).
plot::Image head_heatmap(const AttentionMaps& maps, int64_t layer, int64_t head);
// head_heatmap of the same layer and head for several models on the same passage, side by side.
plot::Image compare_heatmaps(const std::vector<AttentionMaps>& maps, int64_t layer, int64_t head);
// Every model's (layers × heads) mean distances as a heatmap, side by side on one colour scale.
plot::Image distance_figure(const std::vector<AttentionMaps>& maps);

// The interactive page: every model's weights inlined as JSON (no network, no library). Models may read different
// passages: the page offers each distinct passage, then the models that read it, a layer and a head; hovering a
// character colours every character by the attention it receives from it.
std::string attention_page(const std::vector<AttentionMaps>& maps, const std::string& title = "");
void write_attention_page(const std::string& path, const std::vector<AttentionMaps>& maps,
                          const std::string& title = "");
// s as a JSON string literal that is also safe inside <script>: quotes, backslashes and control bytes escaped,
// '<', '>' and '&' as \u003c ..., every byte >= 0x80 as \u00XX (one character per byte, so positions match).
std::string json_string(const std::string& s);

}  // namespace lm

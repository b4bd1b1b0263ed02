// attention/figure.h — the picture of a scheme: the matrix A it applies (its effective attention, out = A v),
// one panel per head, next to its 0/1 sparsity pattern where it has one and its own extra figure (e.g. Linformer's
// projection). One function draws it for `attnzoo show`, the gallery notebook and the lessons, so a scheme looks
// the same everywhere and a new scheme file is drawn with no other edit.
//
//   const attention::SchemeFigure f = attention::draw_scheme(scheme, cfg, q, k, v);   // q, k, v: (1, H, n, d)
//   plot::save_png(f.image, "out/show/longformer.png");
//
// Colours: probabilities in viridis from 0 to the largest weight, one range for all heads so that panels compare;
// a scheme whose A has negative weights (some approximations do) gets the signed blue-white-red map instead.
#pragma once

#include <string>
#include <vector>

#include "attention/scheme.h"
#include "plot/plot.h"

namespace attention {

struct FigureOptions {
  int64_t max_heads = 16;        // panels of A for heads 0..max_heads-1 (of H)
  bool pattern = true;           // the 0/1 pattern panel(s), for schemes that have one (one panel if all heads agree)
  bool extra = true;             // the scheme's extra_figure, if it has one
  std::string subtitle;          // under each panel's title, e.g. "d=16 seed=0 window=4"
  std::string xlabel = "key position j", ylabel = "query position i";
  int target_px = 384;           // size of each panel's plot area (plot::HeatmapOptions)
  int text_scale = 2;
  int columns = 4;               // panels per row of the whole figure
  std::string title;             // of the whole figure; empty: "NAME: effective attention A (out = A @ v) ..."
};

struct SchemeFigure {
  core::Tensor A;                     // (1, H, n, m): the effective attention, out == A @ v
  core::Tensor P;                     // (1, H, n, m): 1 = the pair may attend; undefined without a pattern
  plot::Image attention;              // head 0's panel of A
  plot::Image pattern;                // the first pattern panel (empty image without a pattern)
  std::vector<plot::Image> panels;    // every panel, in the order of the whole figure
  plot::Image image;                  // the whole figure: the panels in a grid, under a title
  bool finite = true;                 // false if A has a NaN or an infinity (drawn as magenta cells)
};

// Computes A (and P) with gradients off and draws them; throws core::Error if the scheme returns a shape other
// than (1, H, n, m). q: (1, H, n, d), k and v: (1, H, m, d).
SchemeFigure draw_scheme(const Scheme& scheme, const Config& cfg, const core::Tensor& q, const core::Tensor& k,
                         const core::Tensor& v, const FigureOptions& options = {});

}  // namespace attention

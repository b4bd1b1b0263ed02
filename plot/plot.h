// plot/plot.h — figures for learners: an RGB canvas, colormaps, attention heatmaps, line plots, PNG files.
//
// Every figure a lesson writes goes through here, and is read by beginners, so each one has a title, axis
// names and a colorbar (or legend) that prints its range. Pictures are made of pixels we set ourselves:
// text comes from stb_easy_font (a tiny public-domain bitmap font made of rectangles), files are written by
// stb_image_write. Nothing here keeps global state; the same data always gives the same PNG bytes.
//
//   Image img = heatmap(attn, opts);                 // attn: (n, n) probabilities -> viridis squares
//   save_png(with_title(hstack({a, b}), "dense vs sparse"), "out/05_longformer/compare.png");
//
// Coordinates: x grows rightwards, y grows downwards, (0, 0) is the top-left pixel.
//
// The module, one concept per file (plot sits beside core/, not in it: the engine does not draw):
//   plot/color.h      RGB colours and the colormaps (viridis, blue-white-red, categorical)
//   plot/canvas.h     the canvas: pixels, rectangles, lines, text
//   plot/heatmap.h    a matrix as cells, with axes and a colorbar or legend
//   plot/line_plot.h  lines through points, linear or log axes, a legend
//   plot/scatter.h    labelled points, each label placed where it covers no other label or point
//   plot/panels.h     figures side by side, in a grid, under a title
//   plot/png.h        PNG files in and out
#pragma once

#include "plot/canvas.h"
#include "plot/color.h"
#include "plot/heatmap.h"
#include "plot/line_plot.h"
#include "plot/panels.h"
#include "plot/png.h"
#include "plot/scatter.h"

// lm/attention_maps.cpp — see attention_maps.h.
#include "lm/attention_maps.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "attention/scheme.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "plot/heatmap.h"
#include "plot/panels.h"

namespace lm {

using core::Shape;

Tensor AttentionMaps::head(int64_t layer, int64_t h) const {
  AZ_CHECK(layer >= 0 && layer < layers(), "attention maps: layer ", layer, " out of range [0, ", layers(), ")");
  AZ_CHECK(h >= 0 && h < heads(), "attention maps: head ", h, " out of range [0, ", heads(), ")");
  const int64_t n = this->n();
  Tensor out = Tensor::zeros({n, n});
  std::copy(weights[layer].data() + h * n * n, weights[layer].data() + (h + 1) * n * n, out.data());
  return out;
}

std::string model_label(const ByteLM& model) {
  std::string s = model.config.model.scheme;
  for (const std::string& kv : model.config.model.set) s += " " + kv;
  return s + (model.config.masked ? ", masked LM" : ", causal LM");
}

AttentionMaps capture_attention(ByteLM& model, const std::string& passage, const std::string& label) {
  const int64_t n = static_cast<int64_t>(passage.size());
  AZ_CHECK(n >= 1 && n <= model.config.context, "attention maps: the passage has ", n,
           " bytes; the model reads 1 to ", model.config.context);
  AttentionMaps maps;
  maps.label = label.empty() ? model_label(model) : label;
  maps.passage = passage;
  maps.causal = !model.config.masked;

  const bool was_training = model.training();
  model.eval();
  core::NoGradGuard no_grad;
  attention::Encoder& enc = model.net.encoder;
  IntTensor ids({1, n}), pos({n});
  for (int64_t i = 0; i < n; ++i) {
    ids.data[static_cast<size_t>(i)] = static_cast<unsigned char>(passage[static_cast<size_t>(i)]);
    pos.data[static_cast<size_t>(i)] = i;
  }
  try {
    // Encoder::forward, step by step: each block's attention sees ln1(x), as in EncoderBlock::forward.
    Tensor x = enc.tokens.forward(ids) + enc.positions.forward(pos);  // (1, n, d_model)
    for (auto& block : enc.blocks) {
      const Tensor A = block->attn->attention_weights(block->ln1.forward(x));  // (1, H, n, n)
      maps.weights.push_back(core::reshape(A, {A.size(1), n, n}).detach());   // (H, n, n)
      x = block->forward(x, Tensor(), enc.rng);  // eval: no dropout, the rng is not drawn from
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return maps;
}

Tensor mean_attention_distance(const Tensor& A) {
  AZ_CHECK(A.dim() >= 2 && A.size(-1) == A.size(-2), "mean_attention_distance: A must be (..., n, n), got ",
           A.shape());
  const int64_t n = A.size(-1), m = A.numel() / std::max<int64_t>(n * n, 1);
  Shape out_shape(A.shape().begin(), A.shape().end() - 2);
  Tensor out = Tensor::zeros(out_shape);
  for (int64_t b = 0; b < m; ++b) {
    double total = 0;
    int64_t rows = 0;
    for (int64_t i = 0; i < n; ++i) {
      double dist = 0, mass = 0;  // sum_j |A_ij| |i-j| and sum_j |A_ij| (1 for a row-stochastic A)
      for (int64_t j = 0; j < n; ++j) {
        const double a = std::fabs(static_cast<double>(A.data()[(b * n + i) * n + j]));
        dist += a * std::fabs(static_cast<double>(i - j));
        mass += a;
      }
      if (mass == 0) continue;  // a query that attends to nothing (routing's unrouted tokens)
      total += dist / mass;
      ++rows;
    }
    out.data()[b] = static_cast<float>(rows > 0 ? total / static_cast<double>(rows) : 0.0);
  }
  return out;
}

Tensor distance_grid(const AttentionMaps& maps) {
  const int64_t L = maps.layers(), H = maps.heads();
  Tensor grid = Tensor::zeros({L, H});
  for (int64_t l = 0; l < L; ++l) {
    const Tensor d = mean_attention_distance(maps.weights[l]);  // (H)
    std::copy(d.data(), d.data() + H, grid.data() + l * H);
  }
  return grid;
}

std::string char_label(char c) {
  if (c == ' ') return "_";
  if (c == '\n') return "|";
  if (c > ' ' && c < 127) return std::string(1, c);
  return "?";
}

plot::Image head_heatmap(const AttentionMaps& maps, int64_t layer, int64_t head) {
  const Tensor A = maps.head(layer, head);  // (n, n)
  std::vector<std::string> labels;
  for (char c : maps.passage) labels.push_back(char_label(c));
  plot::HeatmapOptions o;
  o.title = maps.label;
  o.subtitle = "layer " + std::to_string(layer) + ", head " + std::to_string(head) + ", n = " +
               std::to_string(maps.n()) + " bytes (_ = space, | = newline)";
  o.xlabel = "key (the byte attended to)";
  o.ylabel = "query (the byte attending)";
  o.value_label = "attention weight";
  o.row_labels = labels;
  o.col_labels = labels;
  o.target_px = 768;
  return plot::heatmap(A, o);
}

plot::Image compare_heatmaps(const std::vector<AttentionMaps>& maps, int64_t layer, int64_t head) {
  AZ_CHECK(!maps.empty(), "compare_heatmaps: no models");
  std::vector<plot::Image> panels;
  for (const AttentionMaps& m : maps) panels.push_back(head_heatmap(m, layer, head));
  return plot::with_title(plot::hstack(panels), "Where each byte looks: layer " + std::to_string(layer) +
                                                    ", head " + std::to_string(head) + " of every model");
}

plot::Image distance_figure(const std::vector<AttentionMaps>& maps) {
  AZ_CHECK(!maps.empty(), "distance_figure: no models");
  std::vector<Tensor> grids;
  float hi = 0;
  for (const AttentionMaps& m : maps) {
    grids.push_back(distance_grid(m));
    for (int64_t e = 0; e < grids.back().numel(); ++e) hi = std::max(hi, grids.back().data()[e]);
  }
  std::vector<plot::Image> panels;
  for (size_t k = 0; k < maps.size(); ++k) {
    plot::HeatmapOptions o;
    o.title = maps[k].label;
    o.subtitle = "n = " + std::to_string(maps[k].n()) + " bytes";
    o.xlabel = "head";
    o.ylabel = "layer";
    o.value_label = "mean |i - j| (bytes)";
    o.vmin = 0.0f;
    o.vmax = std::max(hi, 1e-3f);  // one scale for every model
    o.target_px = 256;
    panels.push_back(plot::heatmap(grids[k], o));
  }
  return plot::with_title(plot::hstack(panels),
                          "Mean attention distance of every head (sum_j A_ij |i-j|, mean over i)");
}

// ---- the page -------------------------------------------------------------------------------------------------
std::string json_string(const std::string& s) {
  std::string out = "\"";
  char buf[8];
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&') {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

namespace {

// A weight with 4 decimals, trailing zeros dropped ("0.25", "0", "-0.0312").
std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", static_cast<double>(v));
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0" || s.empty()) s = "0";
  return s;
}

const char* kPageScript = R"JS(
"use strict";
window.onerror = function (msg) { document.body.setAttribute("data-errors", String(msg)); };
const DATA = JSON.parse(document.getElementById("attention-data").textContent);
const $ = (id) => document.getElementById(id);
function fill(sel, items) {
  sel.innerHTML = "";
  items.forEach(([value, text]) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    sel.appendChild(o);
  });
}
function models() { return DATA.models.map((m, k) => [k, m]).filter(([k, m]) => m.passage === +$("passage").value); }
function model() { return DATA.models[+$("model").value]; }
function onPassage() { fill($("model"), models().map(([k, m]) => [k, m.label])); onModel(); }
function onModel() {
  const m = model();
  fill($("layer"), [...Array(m.layers).keys()].map((l) => [l, "layer " + l]));
  fill($("head"), [...Array(m.heads).keys()].map((h) => [h, "head " + h]));
  draw();
}
let spans = [];
function draw() {
  const text = DATA.passages[model().passage];
  const box = $("text");
  box.innerHTML = "";
  spans = [];
  for (let i = 0; i < text.length; ++i) {
    const s = document.createElement("span");
    const c = text[i];
    s.textContent = c === "\n" ? "\u21b5" : c === " " ? "\u00a0" : c;
    s.className = "ch";
    s.addEventListener("mouseenter", () => show(i));
    box.appendChild(s);
    spans.push(s);
    if (c === "\n") box.appendChild(document.createElement("br"));
  }
  const m = model(), l = +$("layer").value, h = +$("head").value;
  $("info").textContent = m.label + ", layer " + l + ", head " + h + ": mean attention distance " +
      m.distance[l][h].toFixed(1) + " bytes. Hover a character to see where it looks.";
}
function show(i) {
  const m = model(), row = m.w[+$("layer").value][+$("head").value][i];
  const top = Math.max(...row.map(Math.abs), 1e-9);
  spans.forEach((s, j) => {
    const a = row[j] / top;
    s.style.background = a >= 0 ? "rgba(214,39,40," + a + ")" : "rgba(31,119,180," + -a + ")";
    s.classList.toggle("query", j === i);
  });
  $("hover").textContent = "query " + i + " '" + DATA.passages[m.passage][i].replace("\n", "\\n") +
      "': largest weight " + top.toFixed(3) + " (full colour); blue = negative (Linformer)";
}
fill($("passage"), DATA.passages.map((p, k) =>
    [k, "passage " + k + ": " + p.slice(0, 40).replace(/\n/g, " ") + "..."]));
["passage", "model", "layer", "head"].forEach((id) => $(id).addEventListener("change",
    id === "passage" ? onPassage : id === "model" ? onModel : draw));
onPassage();
// page.html#query=N shows query N at once (what scripts/check-attention-page.sh uses to exercise the hover)
const q = /^#query=(\d+)$/.exec(location.hash);
if (q && +q[1] < spans.length) show(+q[1]);
document.body.setAttribute("data-models", String(DATA.models.length));
document.body.setAttribute("data-ready", "1");
)JS";

}  // namespace

std::string attention_page(const std::vector<AttentionMaps>& maps, const std::string& title) {
  AZ_CHECK(!maps.empty(), "attention page: no models");
  std::vector<std::string> passages;
  std::ostringstream data;
  data << "{\"title\":" << json_string(title) << ",\"models\":[";
  for (size_t k = 0; k < maps.size(); ++k) {
    const AttentionMaps& m = maps[k];
    size_t p = std::find(passages.begin(), passages.end(), m.passage) - passages.begin();
    if (p == passages.size()) passages.push_back(m.passage);
    const int64_t n = m.n();
    const Tensor dist = distance_grid(m);
    data << (k ? "," : "") << "{\"label\":" << json_string(m.label) << ",\"passage\":" << p
         << ",\"causal\":" << (m.causal ? "true" : "false") << ",\"layers\":" << m.layers()
         << ",\"heads\":" << m.heads() << ",\"n\":" << n << ",\"distance\":[";
    for (int64_t l = 0; l < m.layers(); ++l) {
      data << (l ? "," : "") << "[";
      for (int64_t h = 0; h < m.heads(); ++h) data << (h ? "," : "") << number(dist.data()[l * m.heads() + h]);
      data << "]";
    }
    data << "],\"w\":[";
    for (int64_t l = 0; l < m.layers(); ++l) {
      data << (l ? "," : "") << "[";
      const float* w = m.weights[l].data();
      for (int64_t h = 0; h < m.heads(); ++h) {
        data << (h ? "," : "") << "[";
        for (int64_t i = 0; i < n; ++i) {
          data << (i ? "," : "") << "[";
          for (int64_t j = 0; j < n; ++j) data << (j ? "," : "") << number(w[(h * n + i) * n + j]);
          data << "]";
        }
        data << "]";
      }
      data << "]";
    }
    data << "]}";
  }
  data << "],\"passages\":[";
  for (size_t p = 0; p < passages.size(); ++p) data << (p ? "," : "") << json_string(passages[p]);
  data << "]}";

  // The title goes into HTML text: escape it as HTML.
  std::string html_title;
  for (char c : title.empty() ? std::string("attnzoo: attention on real text") : title) {
    if (c == '<') html_title += "&lt;";
    else if (c == '>') html_title += "&gt;";
    else if (c == '&') html_title += "&amp;";
    else if (c == '"') html_title += "&quot;";
    else html_title += c;
  }
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_title
       << "</title>\n<style>\n"
       << "body { font-family: sans-serif; margin: 2em; max-width: 70em; }\n"
       << "#controls select { margin-right: 1em; }\n"
       << "#text { font-family: monospace; font-size: 15px; line-height: 1.6; border: 1px solid #ccc; "
          "padding: 0.8em; margin-top: 0.8em; }\n"
       << ".ch { cursor: crosshair; }\n.ch.query { outline: 2px solid #000; }\n"
       << "#info, #hover { color: #333; }\n</style>\n</head>\n<body>\n<h1>" << html_title << "</h1>\n"
       << "<p>Each byte-level language model read the passage below. Choose a model, a layer and a head, then hover "
          "a character (the query): every character is coloured by the weight the query puts on it, the "
          "largest weight at full colour.</p>\n"
       << "<div id=\"controls\">passage <select id=\"passage\"></select> model <select id=\"model\"></select> "
          "<select id=\"layer\"></select> <select id=\"head\"></select></div>\n"
       << "<p id=\"info\"></p>\n<p id=\"hover\"></p>\n<div id=\"text\"></div>\n"
       << "<script type=\"application/json\" id=\"attention-data\">" << data.str() << "</script>\n"
       << "<script>" << kPageScript << "</script>\n</body>\n</html>\n";
  return page.str();
}

void write_attention_page(const std::string& path, const std::vector<AttentionMaps>& maps, const std::string& title) {
  const std::string page = attention_page(maps, title);
  std::ofstream f(path, std::ios::binary);
  AZ_CHECK(f, "attention page: cannot write ", path);
  f << page;
  AZ_CHECK(f.good(), "attention page: cannot write ", path);
}

}  // namespace lm

// tools/ipynb.h — from a percent source and what its program printed to a Jupyter notebook (.ipynb):
// the splitter that hands every piece of output to the cell that printed it, base64 for the images, and the
// nbformat 4.5 JSON itself (through nlohmann-json). Header-only; used by tools/nbrun.cpp and the tests.
//
// The notebook reads as a document, not as the source file cut up (document_cells()): the prose; a short setup
// cell (the #includes and `using`s, then what main does before its first step, such as the Lesson line); each
// step's code, dedented, with its output and pictures; and at the end an appendix with the helper functions
// the source defines before main(). main's own lines — `int main(...) try {` and the closing `} catch` — are
// left out (the appendix says they are there). A figure shows as its picture with its caption below it, not
// after the "[figure] PATH — caption" line the program printed.
//
// What goes where in the notebook (nbformat 4, minor 5: every cell has an id):
//   markdown cell  {"cell_type": "markdown", "id": "cell-3", "metadata": {}, "source": [lines]}
//   code cell      {"cell_type": "code", "id": "cell-4", "execution_count": 2, "metadata": {}, "source": [lines],
//                   "outputs": [stream stdout/stderr, display_data image/png, display_data caption (text/markdown),
//                               stream, ...]}   (in printed order)
//   metadata       language_info c++ 17 and "attnzoo": {source, args}. No kernelspec: the notebook is a record of
//                  one run, read as it is; naming a C++ kernel (xeus-cling's xcpp17) only made Jupyter ask for
//                  one that is rarely installed.
// Keys are sorted and the indent is 1 space, as Jupyter writes them; ids and execution counts follow the cell
// order; nothing depends on the time or the machine, so the same program output gives the same bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tools/percent.h"

namespace notebook {

// ---- base64 (RFC 4648, with padding) ------------------------------------------------------------------------

inline std::string base64_encode(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Decodes standard base64 (newlines ignored). Returns false on any other character or a bad length.
inline bool base64_decode(const std::string& text, std::string* bytes) {
  bytes->clear();
  uint32_t acc = 0;
  int bits = 0, pad = 0, count = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') { ++pad; ++count; continue; }
    else if (c == '\n' || c == '\r') continue;
    else return false;
    if (pad > 0) return false;  // data after padding
    ++count;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return count % 4 == 0 && pad <= 2;
}

inline bool is_png(const std::string& bytes) { return bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

// ---- program output, cell by cell --------------------------------------------------------------------------

struct Output {
  enum class Kind { stream, image };
  Kind kind = Kind::stream;
  std::string name;     // stream: "stdout" or "stderr"
  std::string text;     // stream: the text; image: the caption
  std::string png;      // image: the PNG bytes, read when the figure was announced
  std::string path;     // image: the path as announced
};

// A figure announcement as lessons/lesson.h prints it: "[figure] PATH — caption" (or "[figure] PATH").
// Returns false for any other line.
inline bool parse_figure_line(const std::string& line, std::string* path, std::string* caption) {
  static const std::string prefix = "[figure] ";
  if (line.rfind(prefix, 0) != 0) return false;
  std::string rest = line.substr(prefix.size());
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.pop_back();
  const std::string dash = " \xE2\x80\x94 ";  // " — "
  const size_t p = rest.find(dash);
  *path = p == std::string::npos ? rest : rest.substr(0, p);
  *caption = p == std::string::npos ? "" : rest.substr(p + dash.size());
  while (!path->empty() && path->back() == ' ') path->pop_back();
  return !path->empty();
}

// Feeds on the program's stdout and stderr as they arrive and sorts them into cells. The instrumented program
// prints "\n" + boundary_line(tag, i) + "\n" on both streams when it enters cell i; the leading "\n" is the
// splitter's (the text before it is kept exactly as printed). Each stream is split by its own boundaries, so
// stderr lands in the right cell although the two pipes are read independently. Output before the first
// boundary belongs to `first_cell` (the cell holding main's `{`). Each "[figure] PATH — caption" line on stdout
// is followed, in the same cell, by an image output whose bytes are read (through `read`) the moment the line
// arrives, so a figure file that the program overwrites later still shows what it held at that point.
class OutputSplitter {
 public:
  // read(path, &bytes) -> "" on success, otherwise what went wrong.
  using Reader = std::function<std::string(const std::string& path, std::string* bytes)>;

  OutputSplitter(std::string tag, int first_cell, Reader read)
      : delimiter_("\n@@attnzoo-cell:" + tag + ":"), read_(std::move(read)) {
    out_.name = "stdout";
    err_.name = "stderr";
    out_.cell = err_.cell = first_cell;
  }

  std::map<int, std::vector<Output>> outputs;                // by index into PercentSource::cells
  std::vector<std::pair<int, std::string>> figure_problems;  // (cell index, "[figure] PATH: what went wrong")
  // If set: sees each stream's text (name "stdout" or "stderr") as it arrives, without the boundary lines.
  std::function<void(const std::string& name, const std::string& text)> echo;

  int current_cell() const { return out_.cell; }  // the cell whose output stdout showed last

  void feed_stdout(const std::string& chunk) { feed(out_, chunk); }
  void feed_stderr(const std::string& chunk) { feed(err_, chunk); }

  // The program has ended: whatever is left belongs to the current cells.
  void finish() {
    for (Channel* c : {&out_, &err_}) {
      text(*c, c->pending);
      c->pending.clear();
      flush_line(*c);
    }
  }

 private:
  // The image output for a figure line (empty path: not a figure line); error says what went wrong reading it.
  struct Figure {
    Output image;
    std::string error;
  };

  struct Channel {
    std::string name;     // "stdout" or "stderr"
    int cell = 0;         // where its text goes now
    std::string pending;  // received, not yet handed to a cell (may hold the start of a boundary line)
    std::string line;     // the current line, not yet ended by "\n"
    Figure early;         // the figure of `line`, read ahead of its flush
    bool early_ready = false;
  };

  void feed(Channel& c, const std::string& chunk) {
    c.pending += chunk;
    for (;;) {
      const size_t p = c.pending.find(delimiter_);
      if (p == std::string::npos) break;
      const size_t end = c.pending.find("@@\n", p + delimiter_.size());
      if (end == std::string::npos) {  // the boundary line is not complete yet
        text(c, c.pending.substr(0, p));
        c.pending.erase(0, p);
        return;
      }
      text(c, c.pending.substr(0, p));
      flush_line(c);
      c.cell = std::stoi(c.pending.substr(p + delimiter_.size(), end - p - delimiter_.size()));
      c.pending.erase(0, end + 3);
    }
    // Keep back a tail that may be the start of a boundary line; hand over the rest.
    size_t keep = c.pending.size();
    const size_t nl = c.pending.rfind('\n');
    if (nl != std::string::npos && c.pending.size() - nl < delimiter_.size() &&
        delimiter_.compare(0, c.pending.size() - nl, c.pending, nl, std::string::npos) == 0)
      keep = nl;
    text(c, c.pending.substr(0, keep));
    c.pending.erase(0, keep);
    // A kept-back tail starts with "\n": the line before it is complete, so a figure it announces is read now,
    // not when the next output arrives (by then the program may have overwritten the file).
    if (!c.pending.empty() && !c.early_ready && !c.line.empty() && &c == &out_) {
      c.early = read_figure(c.line);
      c.early_ready = true;
    }
  }

  // Text of a channel's current cell: complete lines go to the cell's stream; a figure line on stdout adds an
  // image after it.
  void text(Channel& c, const std::string& s) {
    if (echo && !s.empty()) echo(c.name, s);
    size_t start = 0;
    while (start < s.size()) {
      const size_t nl = s.find('\n', start);
      if (nl == std::string::npos) {
        c.line += s.substr(start);
        return;
      }
      c.line += s.substr(start, nl - start + 1);
      flush_line(c);
      start = nl + 1;
    }
  }

  Figure read_figure(const std::string& line) const {
    Figure f;
    std::string path, caption;
    if (!parse_figure_line(line, &path, &caption)) return f;
    f.image.kind = Output::Kind::image;
    f.image.path = path;
    f.image.text = caption;
    f.error = read_(path, &f.image.png);
    return f;
  }

  void flush_line(Channel& c) {
    if (c.line.empty()) return;
    const std::string line = c.line;
    const bool is_stdout = &c == &out_;
    const Figure f = !is_stdout ? Figure() : c.early_ready ? c.early : read_figure(line);
    c.line.clear();
    c.early_ready = false;
    // A figure line whose PNG was read becomes the image (its caption goes with it); any other line, or a
    // figure that could not be read, stays text.
    if (f.image.path.empty() || !f.error.empty()) append_stream(c.cell, c.name, line);
    if (f.image.path.empty()) return;
    if (!f.error.empty()) {
      figure_problems.push_back({c.cell, "[figure] " + f.image.path + ": " + f.error});
      return;
    }
    outputs[c.cell].push_back(f.image);
  }

  void append_stream(int cell, const std::string& name, const std::string& s) {
    if (s.empty()) return;
    std::vector<Output>& outs = outputs[cell];
    if (!outs.empty() && outs.back().kind == Output::Kind::stream && outs.back().name == name) {
      outs.back().text += s;
      return;
    }
    Output o;
    o.kind = Output::Kind::stream;
    o.name = name;
    o.text = s;
    outs.push_back(o);
  }

  std::string delimiter_;
  Reader read_;
  Channel out_, err_;
};

// ---- the notebook ------------------------------------------------------------------------------------------

// Jupyter's "multiline string": a list of lines, each but the last ending with "\n".
inline nlohmann::json multiline(const std::string& text) {
  nlohmann::json lines = nlohmann::json::array();
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start + 1));
    start = nl + 1;
  }
  return lines;
}

inline nlohmann::json kernel_metadata() {
  return {
      {"language_info",
       {{"name", "c++"},
        {"version", "17"},
        {"codemirror_mode", "text/x-c++src"},
        {"file_extension", ".cpp"},
        {"mimetype", "text/x-c++src"}}},
  };
}

// ---- the notebook as a document -------------------------------------------------------------------------------

// One cell of the notebook: its kind, its text, and the source cell whose output it shows (-1: none).
struct DocCell {
  CellKind kind = CellKind::code;
  std::string source;
  int output_of = -1;
};

namespace detail {

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

inline std::string strip_left(const std::string& s) {
  size_t p = 0;
  while (p < s.size() && is_space(s[p])) ++p;
  return s.substr(p);
}

// A line of the setup part of the code before main: a directive, a using-declaration or -directive, a namespace
// alias, a comment or a blank line.
inline bool setup_line(const std::string& line) {
  const std::string t = strip_left(line);
  if (t.empty() || starts_with(t, "#") || starts_with(t, "//") || starts_with(t, "using ")) return true;
  if (starts_with(t, "namespace ") && t.find('=') != std::string::npos && t.find('{') == std::string::npos) return true;
  return false;
}

inline std::string join_lines(const std::vector<std::string>& lines, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += lines[i] + (i + 1 < to ? "\n" : "");
  return out;
}

inline std::string trim_blank_lines(const std::string& text) {
  std::vector<std::string> lines = split_lines(text);
  size_t from = 0, to = lines.size();
  while (from < to && blank(lines[from])) ++from;
  while (to > from && blank(lines[to - 1])) --to;
  return join_lines(lines, from, to);
}

// Lines of main's body, moved left by their common indentation.
inline std::string dedent(const std::string& text) {
  const std::vector<std::string> lines = split_lines(text);
  size_t common = std::string::npos;
  for (const std::string& l : lines) {
    if (blank(l)) continue;
    size_t p = 0;
    while (p < l.size() && l[p] == ' ') ++p;
    common = std::min(common, p);
  }
  if (common == std::string::npos || common == 0) return text;
  std::vector<std::string> out;
  for (const std::string& l : lines) out.push_back(blank(l) ? "" : l.substr(common));
  return join_lines(out, 0, out.size());
}

}  // namespace detail

// The notebook's cells for `src` (see the top of this file): the first code cell before main() is cut into its
// setup (includes, usings) and its helpers; the setup joins the cell that holds main's `{` when that cell comes
// right after it; main's signature and its closing `}` / catch clause are left out; the code inside main is
// dedented; the helpers follow at the end under "Appendix". Other file-scope cells (a companion notebook that
// builds a scheme step by step at file scope) stay where they are.
inline std::vector<DocCell> document_cells(const PercentSource& src) {
  std::vector<DocCell> cells;
  int first_code = -1;
  for (size_t i = 0; i < src.cells.size(); ++i)
    if (src.cells[i].kind == CellKind::code) {
      first_code = static_cast<int>(i);
      break;
    }
  const bool split_first = first_code >= 0 && src.main_cell >= 0 && first_code < src.main_cell;
  std::string setup, helpers;
  if (split_first) {
    const std::vector<std::string> lines = detail::split_lines(src.cells[static_cast<size_t>(first_code)].source);
    size_t end = 0;
    while (end < lines.size() && detail::setup_line(lines[end])) ++end;
    if (end < lines.size()) {
      // Comments right above the first helper describe it: they go with it.
      while (end > 0 && (detail::blank(lines[end - 1]) || detail::starts_with(detail::strip_left(lines[end - 1]), "//")))
        --end;
    }
    setup = detail::trim_blank_lines(detail::join_lines(lines, 0, end));
    helpers = detail::trim_blank_lines(detail::join_lines(lines, end, lines.size()));
  }
  bool setup_pending = false;  // the setup waits for the main cell right after it
  for (size_t i = 0; i < src.cells.size(); ++i) {
    const Cell& c = src.cells[i];
    const int index = static_cast<int>(i);
    if (c.kind == CellKind::markdown) {
      cells.push_back({CellKind::markdown, c.source, -1});
      continue;
    }
    if (split_first && index == first_code) {
      if (src.main_cell == first_code + 1) {
        setup_pending = true;
      } else if (!setup.empty()) {
        cells.push_back({CellKind::code, setup, -1});
      }
      continue;
    }
    std::string text = c.source;
    const bool in_main = index == src.main_cell || c.boundary;
    if (in_main) {
      // The cell's lines, without main's signature and everything from main's closing `}` on.
      std::vector<std::string> lines;
      int signature = 0;  // the first line of `int main(...) {`
      if (index == src.main_cell) {
        signature = src.main_line;
        while (signature > c.first_line && src.lines[static_cast<size_t>(signature - 1)].find("main") == std::string::npos)
          --signature;
        std::string above;  // file-scope code above main in the same cell: a helper too
        for (int l = c.first_line; l < signature; ++l) above += src.lines[static_cast<size_t>(l - 1)] + "\n";
        above = detail::trim_blank_lines(above);
        if (!above.empty()) helpers += (helpers.empty() ? "" : "\n\n") + above;
      }
      for (int l = c.first_line; l <= c.last_line; ++l) {
        if (index == src.main_cell && l <= src.main_line) continue;
        if (src.main_close_line > 0 && l >= src.main_close_line) break;
        lines.push_back(src.lines[static_cast<size_t>(l - 1)]);
      }
      text = detail::trim_blank_lines(detail::dedent(detail::join_lines(lines, 0, lines.size())));
    }
    if (setup_pending && index == src.main_cell) {
      text = setup.empty() ? text : text.empty() ? setup : setup + "\n\n" + text;
      setup_pending = false;
    }
    if (text.empty() && index != src.main_cell) continue;
    cells.push_back({CellKind::code, text, index});
  }
  helpers = detail::trim_blank_lines(helpers);
  const std::string file = src.path.empty() ? std::string("the source") : "`" + src.path + "`";
  std::string note = helpers.empty() ? "## About this notebook\n\n" : "## Appendix · the helpers used above\n\n";
  if (!helpers.empty())
    note += "The functions and types the steps call, defined in " + file + " before `main()`.\n\n";
  if (src.main_cell >= 0)
    note += "`main()` itself is not shown: in " + file + " the code of the cells after the setup's `#include`s "
            "and helpers runs inside `int main(int argc, char** argv) try { ... }`, whose `catch` prints an error as "
            "one line. This notebook is the record of one run (made by `tools/nbrun.cpp`): it needs no kernel. To "
            "change a step, edit the source and run `make notebooks`.";
  cells.push_back({CellKind::markdown, note, -1});
  if (!helpers.empty()) cells.push_back({CellKind::code, helpers, -1});
  return cells;
}

// Markdown's special characters in a caption, escaped, so that "A_ij * 2" stays as written.
inline std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string("\\`*_[]<>#|").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// The notebook for `src`, with `outputs` (by cell index of `src`) in its code cells, laid out by
// document_cells(). `extra` is merged into the notebook's metadata (the runner puts {"attnzoo": {"source": ...,
// "args": [...]}} there).
inline nlohmann::json make_notebook(const PercentSource& src, const std::map<int, std::vector<Output>>& outputs,
                                    const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json cells = nlohmann::json::array();
  int execution = 0;
  const std::vector<DocCell> doc = document_cells(src);
  for (size_t i = 0; i < doc.size(); ++i) {
    const DocCell& c = doc[i];
    nlohmann::json cell;
    cell["id"] = "cell-" + std::to_string(i + 1);
    cell["metadata"] = nlohmann::json::object();
    cell["source"] = multiline(c.source);
    if (c.kind == CellKind::markdown) {
      cell["cell_type"] = "markdown";
    } else {
      cell["cell_type"] = "code";
      cell["execution_count"] = ++execution;
      nlohmann::json outs = nlohmann::json::array();
      auto it = outputs.find(c.output_of);
      if (c.output_of >= 0 && it != outputs.end()) {
        for (const Output& o : it->second) {
          if (o.kind == Output::Kind::stream) {
            outs.push_back({{"output_type", "stream"}, {"name", o.name}, {"text", multiline(o.text)}});
          } else {
            outs.push_back({{"output_type", "display_data"},
                            {"data",
                             {{"image/png", base64_encode(o.png)},
                              {"text/plain", multiline(o.text.empty() ? o.path : o.text)}}},
                            {"metadata", nlohmann::json::object()}});
            // The caption under the picture, and the file it was saved as.
            const std::string file = o.path.substr(o.path.find_last_of('/') + 1);
            const std::string caption = o.text.empty() ? "" : "*" + markdown_escape(o.text) + "* ";
            outs.push_back({{"output_type", "display_data"},
                            {"data",
                             {{"text/markdown", multiline(caption + "(`" + file + "`)")},
                              {"text/plain", multiline(o.text.empty() ? o.path : o.text)}}},
                            {"metadata", nlohmann::json::object()}});
          }
        }
      }
      cell["outputs"] = outs;
    }
    cells.push_back(cell);
  }
  nlohmann::json metadata = kernel_metadata();
  for (auto it = extra.begin(); it != extra.end(); ++it) metadata[it.key()] = it.value();
  return {{"cells", cells}, {"metadata", metadata}, {"nbformat", 4}, {"nbformat_minor", 5}};
}

// The file's bytes: 1-space indent and sorted keys like Jupyter, invalid UTF-8 in program output replaced by
// U+FFFD (JSON must be UTF-8), a final newline.
inline std::string dump_notebook(const nlohmann::json& nb) {
  return nb.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace notebook

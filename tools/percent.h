// tools/percent.h — read a percent-format C++ source: cut it into markdown and code cells, check that
// every cell marker sits where the notebook runner can use it, and make the instrumented copy the runner
// compiles. Header-only (used by tools/nbrun.cpp, tools/gallery.cpp and the tests).
//
// The format (DESIGN.md, "lessons/"): a line `// %% [markdown]` starts a prose cell made of `//` comment lines;
// a line `// %%` starts a code cell. Both are plain comments, so the file compiles as it is.
//
//   // %% [markdown]                       <- cell 1, markdown: "# 05 · Longformer ..."
//   // # 05 · Longformer ...
//   // %%                                  <- cell 2, code before main: includes, helpers (no output)
//   #include "lessons/lesson.h"
//   // %%                                  <- cell 3, code: holds main's `{`; output printed before the next
//   int main(int argc, char** argv) try {  //    marker inside main belongs to it
//     lesson::Lesson L(argc, argv, "05_longformer");
//     // %% [markdown]                     <- cell 4, markdown
//     // ## Step 1 · the band
//     // %%                                <- cell 5, code inside main: the runner prints a boundary here
//     L.step("Step 1 · the band");
//
// Where a marker may stand (anything else is an error that names the line):
//   - alone on its line (only spaces before it): `foo(); // %%` is refused;
//   - as `// %%`, `// %% [markdown]` or `// %% [md]` (`//%%` is accepted too); other text after %% is refused;
//   - at file scope or directly in a namespace, between declarations;
//   - inside main(), between two statements, at any block depth (a marker inside a loop body starts its cell
//     again on every iteration: the cell collects the output of all iterations). Not in the middle of a
//     statement (`if (x)` / marker / `f();`), not before `else`, `catch` or the `while` of a do-loop, and not
//     inside a lambda, an initializer list or a local class, where a print statement could not go or would run
//     at another time;
//   - never inside the body of another function or of a class: the runner could only print a boundary when that
//     function is called, which is not where the cell sits in the notebook;
//   - never inside a string literal (plain or raw) or a /* */ comment, where `// %%` is text, not a marker.
// A markdown cell holds only `//` comment lines and blank lines. A source needs at least one marker.
//
// The instrumented copy (instrument()): a short prelude that defines the boundary print, `#line 1 "SOURCE"`,
// then the source with each code marker inside main turned into `::attnzoo_notebook_cell_(ID); // %%` on the
// same line. No line moves, so compiler errors and __LINE__ point into the original file.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace notebook {

// A malformed source. what() is one line: "PATH:LINE: what is wrong".
struct SourceError : std::runtime_error {
  SourceError(const std::string& path, int line, const std::string& what)
      : std::runtime_error(path + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what),
        line(line) {}
  int line;
};

enum class CellKind { markdown, code };

struct Cell {
  CellKind kind = CellKind::code;
  int marker_line = 0;   // 1-based line of its marker; 0 for text above the first marker
  int first_line = 0;    // 1-based lines of its content (without the marker), after trimming blank lines
  int last_line = 0;
  std::string source;    // markdown: the prose without its `// ` prefixes; code: the lines as written
  bool boundary = false;  // a code cell whose marker is inside main(): the runner prints a boundary there
  bool holds_main = false;  // the code cell that contains main's opening brace
};

struct PercentSource {
  std::string path;
  std::vector<std::string> lines;  // the source, one entry per line, without line ends
  std::vector<Cell> cells;         // in source order; cells with nothing in them are left out
  int main_cell = -1;              // index of the cell holding main's `{`; -1 when there is no main()
  int main_line = 0;               // line of main's opening brace
  int main_close_line = 0;         // line of main's closing brace

  int cell_at_line(int line) const {  // the cell whose marker..content range holds `line`; -1 if none
    int found = -1;
    for (size_t i = 0; i < cells.size(); ++i) {
      const int start = cells[i].marker_line > 0 ? cells[i].marker_line : cells[i].first_line;
      if (start <= line) found = static_cast<int>(i);
    }
    return found;
  }
};

namespace detail {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
inline bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (static_cast<unsigned char>(c) & 0x80);
}
inline bool is_ident_char(char c) { return is_ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Does `text` contain `//`, optional spaces, `%%` — something that reads as a cell marker?
inline bool mentions_marker(const std::string& text) {
  for (size_t p = text.find("//"); p != std::string::npos; p = text.find("//", p + 1)) {
    size_t q = p + 2;
    while (q < text.size() && (text[q] == ' ' || text[q] == '\t')) ++q;
    if (text.compare(q, 2, "%%") == 0) return true;
  }
  return false;
}

inline bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c); });
}

// The kinds of brace the scanner keeps on its stack.
enum class Scope {
  file,       // the bottom of the stack
  name_space, // namespace X { ... } or extern "C" { ... }: markers allowed, like file scope
  other,      // a function other than main, a class, an initializer at file scope: no markers
  main_body,  // main's own braces
  block,      // a compound statement inside main (if/for/while/else/try/catch/switch body, or a bare { })
  expr,       // braces inside main that are not statements: lambda bodies, initializer lists, local classes
};

struct Frame {
  Scope scope = Scope::file;
  int open_line = 0;
  // The statement being read at this level: how many tokens since the last `;`, `{` or `}` that ended one,
  // its first and last token, the line it started on, and the depth of ( and [ inside it.
  int tokens = 0;
  std::string first, last;
  int start_line = 0;
  int paren = 0;
  bool has_type_keyword = false;  // class/struct/union/enum seen (file scope: its `}` does not end the statement)
  bool has_assign = false;        // `=` seen (file scope: `auto f = [] { ... };`)
  bool has_namespace = false;     // `namespace` seen: its `{` opens a namespace
  bool main_candidate = false;    // file scope: `main (` seen and its `)` closed, waiting for `{` or `;`
  int main_paren = -1;            // the paren depth at which main's `(` opened
};

struct Marker {
  int line = 0;
  CellKind kind = CellKind::code;
  bool in_main = false;
};

// One pass over the source: comments, string and character literals, identifiers, numbers, punctuation, with a
// stack of braces. Collects the markers and checks each one's place; throws SourceError on the first problem.
class Scanner {
 public:
  Scanner(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  std::vector<Marker> markers;
  int main_line = 0;
  int main_close_line = 0;  // the line of main's closing `}` (before `catch` in a function-try-block)

  void run() {
    stack_.push_back(Frame{});
    size_t i = 0;
    const size_t n = text_.size();
    bool line_has_code = false;  // a token appeared on the current line before this point
    while (i < n) {
      const char c = text_[i];
      if (c == '\n') {
        if (!(i > 0 && text_[i - 1] == '\\')) in_directive_ = false;
        ++line_;
        line_has_code = false;
        ++i;
        continue;
      }
      if (is_space(c) || (c == '\\' && i + 1 < n && text_[i + 1] == '\n')) {
        ++i;
        continue;
      }
      // -- comments --
      if (c == '/' && i + 1 < n && text_[i + 1] == '/') {
        size_t end = i;
        int lines_spanned = 0;
        while (end < n && !(text_[end] == '\n' && text_[end - 1] != '\\')) {  // `\` continues a // comment
          if (text_[end] == '\n') ++lines_spanned;
          ++end;
        }
        line_comment(text_.substr(i + 2, end - i - 2), line_has_code);
        line_ += lines_spanned;
        i = end;
        continue;
      }
      if (c == '/' && i + 1 < n && text_[i + 1] == '*') {
        const size_t end = text_.find("*/", i + 2);
        if (end == std::string::npos) fail(line_, "a /* comment that is never closed");
        const std::string body = text_.substr(i + 2, end - i - 2);
        if (mentions_marker(body)) fail(line_ + marker_offset(body), "a cell marker inside a /* */ comment");
        line_ += static_cast<int>(std::count(body.begin(), body.end(), '\n'));
        i = end + 2;
        continue;
      }
      line_has_code = true;
      // -- directives: `#` first on a line; their tokens do not count for the brace structure --
      if (c == '#' && !in_directive_ && at_line_start(i)) {
        in_directive_ = true;
        ++i;
        continue;
      }
      // -- literals and names --
      if (c == '"') {
        i = string_literal(i, i + 1);
        token("\"\"");
        continue;
      }
      if (c == '\'') {
        i = char_literal(i + 1);
        token("''");
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        size_t j = i + 1;
        while (j < n) {
          const char d = text_[j];
          if (is_ident_char(d) || d == '.' || d == '\'') {
            ++j;
          } else if ((d == '+' || d == '-') && (text_[j - 1] == 'e' || text_[j - 1] == 'E' ||
                                                  text_[j - 1] == 'p' || text_[j - 1] == 'P')) {
            ++j;
          } else {
            break;
          }
        }
        token("0");
        i = j;
        continue;
      }
      if (is_ident_start(c)) {
        size_t j = i + 1;
        while (j < n && is_ident_char(text_[j])) ++j;
        const std::string word = text_.substr(i, j - i);
        if (j < n && text_[j] == '"' && (word == "R" || word == "u8R" || word == "uR" || word == "UR" || word == "LR")) {
          i = raw_string_literal(i, j + 1);
          token("\"\"");
          continue;
        }
        if (j < n && text_[j] == '"' && (word == "u8" || word == "u" || word == "U" || word == "L")) {
          i = string_literal(i, j + 1);
          token("\"\"");
          continue;
        }
        if (j < n && text_[j] == '\'' && (word == "u8" || word == "u" || word == "U" || word == "L")) {
          i = char_literal(j + 1);
          token("''");
          continue;
        }
        token(word);
        i = j;
        continue;
      }
      token(std::string(1, c));
      ++i;
    }
    if (stack_.size() > 1) {
      const Frame& open = stack_.back();
      fail(open.open_line, "this `{` is never closed (unbalanced braces; braces inside #if branches confuse the "
                           "cell checker: keep each branch balanced)");
    }
  }

 private:
  [[noreturn]] void fail(int line, const std::string& what) const { throw SourceError(path_, line, what); }

  static int marker_offset(const std::string& body) {  // lines from the start of body to its first marker
    for (size_t p = body.find("//"); p != std::string::npos; p = body.find("//", p + 1)) {
      size_t q = p + 2;
      while (q < body.size() && (body[q] == ' ' || body[q] == '\t')) ++q;
      if (body.compare(q, 2, "%%") == 0) return static_cast<int>(std::count(body.begin(), body.begin() + p, '\n'));
    }
    return 0;
  }

  bool at_line_start(size_t i) const {
    for (size_t j = i; j > 0; --j) {
      const char c = text_[j - 1];
      if (c == '\n') return true;
      if (!is_space(c)) return false;
    }
    return true;
  }

  // `"..."` from the opening quote at `quote`; returns the index after the closing quote.
  size_t string_literal(size_t start, size_t after_quote) {
    size_t j = after_quote;
    const int line = line_;
    while (j < text_.size() && text_[j] != '"') {
      if (text_[j] == '\\' && j + 1 < text_.size()) {
        if (text_[j + 1] == '\n') ++line_;
        j += 2;
        continue;
      }
      if (text_[j] == '\n') fail(line, "a string literal that is not closed on its line");
      ++j;
    }
    if (j >= text_.size()) fail(line, "a string literal that is never closed");
    if (mentions_marker(text_.substr(start, j - start)))
      fail(line, "a cell marker (// %%) inside a string literal: split the string (\"// \" \"%%\") or move the "
                 "marker out of it");
    return j + 1;
  }

  // R"delim( ... )delim" from the opening quote; returns the index after the closing quote.
  size_t raw_string_literal(size_t start, size_t after_quote) {
    const size_t open = text_.find('(', after_quote);
    const int line = line_;
    if (open == std::string::npos || open - after_quote > 16) fail(line, "a malformed raw string literal");
    const std::string close = ")" + text_.substr(after_quote, open - after_quote) + "\"";
    const size_t end = text_.find(close, open + 1);
    if (end == std::string::npos) fail(line, "a raw string literal that is never closed");
    const std::string body = text_.substr(start, end - start);
    if (mentions_marker(body))
      fail(line + marker_offset(body), "a cell marker (// %%) inside a raw string literal (it starts at line " +
                                           std::to_string(line) + ")");
    line_ += static_cast<int>(std::count(body.begin(), body.end(), '\n'));
    return end + close.size();
  }

  size_t char_literal(size_t j) {
    const int line = line_;
    while (j < text_.size() && text_[j] != '\'') {
      if (text_[j] == '\\') ++j;
      if (j < text_.size() && text_[j] == '\n') {
        if (in_directive_) return j;  // `#error don't`: an apostrophe in a directive's text
        fail(line, "a character literal that is not closed on its line");
      }
      ++j;
    }
    if (j >= text_.size()) fail(line, "a character literal that is never closed");
    return j + 1;
  }

  void line_comment(const std::string& body, bool after_code) {
    size_t q = 0;
    while (q < body.size() && (body[q] == ' ' || body[q] == '\t')) ++q;
    if (body.compare(q, 2, "%%") != 0) return;  // an ordinary comment
    if (after_code || in_directive_)
      fail(line_, "a cell marker after code on the same line: a marker must be alone on its line");
    std::string rest = body.substr(q + 2);
    while (!rest.empty() && is_space(rest.back())) rest.pop_back();
    size_t r = 0;
    while (r < rest.size() && is_space(rest[r])) ++r;
    rest = rest.substr(r);
    Marker m;
    m.line = line_;
    if (rest.empty()) {
      m.kind = CellKind::code;
    } else if (rest == "[markdown]" || rest == "[md]") {
      m.kind = CellKind::markdown;
    } else {
      fail(line_, "unknown cell marker '//" + body + "' (write '// %%' for code or '// %% [markdown]' for prose)");
    }
    place_marker(m);
    markers.push_back(m);
  }

  void place_marker(Marker& m) {
    Frame& f = stack_.back();
    switch (f.scope) {
      case Scope::file:
      case Scope::name_space:
        if (f.paren > 0 || f.main_candidate)
          fail(m.line, "a cell marker in the middle of a declaration (it starts at line " +
                           std::to_string(f.start_line) + "): put it between declarations");
        return;
      case Scope::other:
        fail(m.line, "a cell marker inside a function or class other than main() (its `{` is at line " +
                         std::to_string(f.open_line) +
                         "): cells start at file scope, in a namespace, or between statements of main()");
      case Scope::expr:
        fail(m.line, "a cell marker inside a lambda, initializer list or local class in main() (its `{` is at line " +
                         std::to_string(f.open_line) + "): the boundary print would not run where the cell starts");
      case Scope::main_body:
      case Scope::block:
        if (f.paren > 0 || f.tokens > 0)
          fail(m.line, "a cell marker in the middle of a statement of main() (it starts at line " +
                           std::to_string(f.start_line) + "): put it between statements");
        m.in_main = true;
        pending_marker_line_ = m.line;
        return;
    }
  }

  void begin_statement_token(Frame& f, const std::string& tok) {
    if (f.tokens == 0) {
      f.first = tok;
      f.start_line = line_;
      f.has_type_keyword = f.has_assign = f.has_namespace = false;
    }
    ++f.tokens;
    f.last = tok;
    if (tok == "class" || tok == "struct" || tok == "union" || tok == "enum") f.has_type_keyword = true;
    if (tok == "=") f.has_assign = true;
    if (tok == "namespace") f.has_namespace = true;
  }

  static void end_statement(Frame& f) {
    f.tokens = 0;
    f.first.clear();
    f.last.clear();
    f.paren = 0;
    f.main_candidate = false;
    f.main_paren = -1;
  }

  void token(const std::string& tok) {
    if (pending_marker_line_ > 0) {
      // A statement that continues a previous one cannot have a print put before it.
      if (tok == "else" || tok == "catch")
        fail(pending_marker_line_, "a cell marker right before `" + tok +
                                       "`: the boundary print would split the statement; move the marker up");
      pending_marker_line_ = 0;
    }
    if (in_directive_) return;
    Frame& f = stack_.back();
    const bool in_main = f.scope == Scope::main_body || f.scope == Scope::block || f.scope == Scope::expr;

    if (tok == "{") {
      push_brace(f, in_main);
      return;
    }
    if (tok == "}") {
      pop_brace();
      return;
    }
    if (tok == "(" || tok == "[") {
      if (f.scope == Scope::file && tok == "(" && f.last == "main" && f.paren == 0 && main_line == 0)
        f.main_paren = 0;
      begin_statement_token(f, tok);
      ++f.paren;
      return;
    }
    if (tok == ")" || tok == "]") {
      if (f.paren > 0) --f.paren;
      begin_statement_token(f, tok);
      if (f.scope == Scope::file && tok == ")" && f.main_paren == f.paren) {
        f.main_candidate = true;
        f.main_paren = -1;
      }
      return;
    }
    if (tok == ";") {
      if (f.paren == 0) {
        end_statement(f);
      } else {
        begin_statement_token(f, tok);
      }
      return;
    }
    if (tok == ":" && in_main && f.paren == 0 && (f.first == "case" || f.first == "default")) {
      end_statement(f);  // after a case label a statement may start (and so may a cell)
      return;
    }
    begin_statement_token(f, tok);
  }

  void push_brace(Frame& f, bool in_main) {
    Frame next;
    next.open_line = line_;
    if (!in_main) {
      if (f.scope == Scope::file && f.main_candidate && f.paren == 0) {
        next.scope = Scope::main_body;
        main_line = line_;
      } else if (f.paren == 0 && (f.has_namespace || (f.first == "extern" && f.tokens == 2 && f.last == "\"\""))) {
        next.scope = Scope::name_space;
      } else {
        next.scope = Scope::other;
      }
    } else if (f.scope == Scope::expr || f.paren > 0) {
      next.scope = Scope::expr;
    } else if (f.tokens == 0) {
      next.scope = Scope::block;  // a bare { } block
    } else {
      const std::string& a = f.first;
      const bool control_paren = (a == "if" || a == "for" || a == "while" || a == "switch" || a == "catch" ||
                                  a == "else") && f.last == ")";
      const bool control_word = (a == "else" || a == "do" || a == "try") && f.last == a;
      next.scope = control_paren || control_word ? Scope::block : Scope::expr;
    }
    // Remember how the statement that owns this brace began (for pop_brace).
    next.first = "";
    owner_.push_back(f.first);
    owner_type_.push_back(f.has_type_keyword || f.has_assign);
    begin_statement_token(f, "{");
    stack_.push_back(next);
  }

  void pop_brace() {
    if (stack_.size() <= 1) fail(line_, "a `}` without a matching `{`");
    const Scope closed = stack_.back().scope;
    stack_.pop_back();
    const std::string owner = owner_.back();
    const bool owner_continues = owner_type_.back();
    owner_.pop_back();
    owner_type_.pop_back();
    Frame& f = stack_.back();
    if (closed == Scope::main_body) main_close_line = line_;
    switch (closed) {
      case Scope::main_body:
      case Scope::name_space:
        end_statement(f);
        break;
      case Scope::other:
        // A function body ends its declaration; a class body or `= { ... }` is followed by `;`.
        if (owner_continues) {
          begin_statement_token(f, "}");
        } else {
          end_statement(f);
        }
        break;
      case Scope::block:
        if (owner == "do") {
          begin_statement_token(f, "}");  // `do { ... } while (...);` goes on
        } else {
          end_statement(f);
        }
        break;
      case Scope::expr:
        begin_statement_token(f, "}");  // the lambda or initializer was part of a statement that goes on
        break;
      case Scope::file:
        break;
    }
  }

  const std::string& text_;
  const std::string& path_;
  int line_ = 1;
  bool in_directive_ = false;
  int pending_marker_line_ = 0;
  std::vector<Frame> stack_;
  std::vector<std::string> owner_;
  std::vector<bool> owner_type_;
};

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (end == text.size()) break;
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty() && !text.empty() && text.back() == '\n') lines.pop_back();
  return lines;
}

// The prose of one `//` line: leading spaces, `//` and one space removed.
inline std::string prose_of(const std::string& line) {
  size_t p = 0;
  while (p < line.size() && is_space(line[p])) ++p;
  if (line.compare(p, 2, "//") != 0) return line;
  p += 2;
  if (p < line.size() && line[p] == ' ') ++p;
  std::string out = line.substr(p);
  while (!out.empty() && is_space(out.back())) out.pop_back();
  return out;
}

}  // namespace detail

// Cut `text` (the contents of `path`) into cells. Throws SourceError (one line, naming the line) when a marker
// is misplaced, when a markdown cell holds code, or when there is no marker at all.
inline PercentSource parse_percent(const std::string& text, const std::string& path) {
  PercentSource src;
  src.path = path;
  src.lines = detail::split_lines(text);

  detail::Scanner scanner(text, path);
  scanner.run();
  const std::vector<detail::Marker>& markers = scanner.markers;
  if (markers.empty())
    throw SourceError(path, 0, "no cell markers: a percent-format source has '// %% [markdown]' prose cells and "
                               "'// %%' code cells (see tools/percent.h)");
  src.main_line = scanner.main_line;
  src.main_close_line = scanner.main_close_line;

  const int total = static_cast<int>(src.lines.size());
  auto make_cell = [&](CellKind kind, int marker_line, int from, int to, bool boundary) {
    // from..to: 1-based content lines (inclusive); trim blank lines at both ends.
    while (from <= to && detail::blank(src.lines[from - 1])) ++from;
    while (to >= from && detail::blank(src.lines[to - 1])) --to;
    Cell cell;
    cell.kind = kind;
    cell.marker_line = marker_line;
    cell.first_line = from;
    cell.last_line = to;
    cell.boundary = boundary;
    for (int l = from; l <= to; ++l) {
      const std::string& line = src.lines[l - 1];
      if (kind == CellKind::markdown) {
        if (!detail::blank(line) && detail::prose_of(line) == line)
          throw SourceError(path, l, "code inside the markdown cell that starts at line " + std::to_string(marker_line) +
                                         ": prose lines start with //; start a code cell with '// %%' before the code");
        cell.source += detail::prose_of(line);
      } else {
        cell.source += line;
      }
      if (l < to) cell.source += "\n";
    }
    if (cell.source.empty()) return;  // nothing in it: left out of the notebook
    if (src.main_line > 0 && kind == CellKind::code && (marker_line > 0 ? marker_line : from) <= src.main_line &&
        src.main_line <= to)
      cell.holds_main = true;
    src.cells.push_back(cell);
  };

  if (markers.front().line > 1) make_cell(CellKind::code, 0, 1, markers.front().line - 1, false);
  for (size_t m = 0; m < markers.size(); ++m) {
    const int end = m + 1 < markers.size() ? markers[m + 1].line - 1 : total;
    make_cell(markers[m].kind, markers[m].line, markers[m].line + 1, end,
              markers[m].kind == CellKind::code && markers[m].in_main);
  }
  for (size_t i = 0; i < src.cells.size(); ++i)
    if (src.cells[i].holds_main) src.main_cell = static_cast<int>(i);
  return src;
}

// The name of the boundary print in the instrumented copy.
inline const char* boundary_function() { return "attnzoo_notebook_cell_"; }

// The line the boundary print writes (on stdout and on stderr) for cell `index` (0-based index in PercentSource::cells), without the
// newlines around it: "@@attnzoo-cell:TAG:7@@". TAG is chosen per run so that program output cannot forge it.
inline std::string boundary_line(const std::string& tag, int index) {
  return "@@attnzoo-cell:" + tag + ":" + std::to_string(index) + "@@";
}

// The copy of the source that the runner compiles: the prelude, `#line 1 "PATH"`, then every line of the
// source, where the marker line of each boundary cell becomes `INDENT::attnzoo_notebook_cell_(ID);  // %%`.
// `line_path` is the path compiler messages should name (usually the absolute path of the source).
inline std::string instrument(const PercentSource& src, const std::string& tag, const std::string& line_path) {
  std::string quoted;
  for (char c : line_path) {
    if (c == '\\' || c == '"') quoted += '\\';
    quoted += c;
  }
  std::string out;
  out += "// Instrumented copy made by the notebook runner (tools/nbrun.cpp); edit the original.\n";
  out += "#include <cstdio>\n#include <iostream>\n";
  out += "[[maybe_unused]] static void " + std::string(boundary_function()) + "(int cell) {\n";
  // Through C stdio, not std::cout: a lesson copies what std::cout prints into its log (lessons/lesson.h),
  // and the boundaries are the runner's, not the lesson's.
  out += "  std::cout.flush();\n  std::cerr.flush();\n  std::fflush(stdout);\n  std::fflush(stderr);\n";
  out += "  std::fprintf(stdout, \"\\n@@attnzoo-cell:" + tag + ":%d@@\\n\", cell);\n  std::fflush(stdout);\n";
  out += "  std::fprintf(stderr, \"\\n@@attnzoo-cell:" + tag + ":%d@@\\n\", cell);\n  std::fflush(stderr);\n}\n";
  out += "#line 1 \"" + quoted + "\"\n";
  std::vector<int> boundary_at(src.lines.size() + 1, -1);
  for (size_t i = 0; i < src.cells.size(); ++i)
    if (src.cells[i].boundary) boundary_at[src.cells[i].marker_line] = static_cast<int>(i);
  for (size_t l = 1; l <= src.lines.size(); ++l) {
    const std::string& line = src.lines[l - 1];
    if (boundary_at[l] >= 0) {
      size_t p = 0;
      while (p < line.size() && detail::is_space(line[p])) ++p;
      out += line.substr(0, p) + "::" + boundary_function() + "(" + std::to_string(boundary_at[l]) + ");  " +
             line.substr(p) + "\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

// The first `# ` heading of the first markdown cell ("01 · Attention is quadratic"), and the first sentence of
// the paragraph after it, for one-line summaries (the gallery). Empty strings when there is none.
struct Summary {
  std::string title;
  std::string sentence;
  std::string intro;  // the whole first markdown cell
};

inline Summary summarize(const PercentSource& src) {
  Summary s;
  for (const Cell& c : src.cells) {
    if (c.kind != CellKind::markdown) continue;
    s.intro = c.source;
    const std::vector<std::string> lines = detail::split_lines(c.source);
    size_t i = 0;
    for (; i < lines.size(); ++i) {
      if (lines[i].rfind("# ", 0) == 0) {
        s.title = lines[i].substr(2);
        ++i;
        break;
      }
    }
    if (s.title.empty()) i = 0;
    while (i < lines.size() && detail::blank(lines[i])) ++i;
    std::string paragraph;
    for (; i < lines.size() && !detail::blank(lines[i]); ++i) {
      if (lines[i].rfind("    ", 0) == 0 || lines[i].rfind("#", 0) == 0) break;  // a formula or a heading
      paragraph += (paragraph.empty() ? "" : " ") + lines[i];
    }
    size_t end = std::string::npos;
    for (size_t p = 0; p + 1 < paragraph.size(); ++p) {
      const char c = paragraph[p];
      if ((c != '.' && c != '?' && c != '!') || paragraph[p + 1] != ' ') continue;
      // "et al. 2017" and "e.g. x" do not end a sentence.
      const std::string before = paragraph.substr(0, p);
      if (c == '.' && before.size() >= 2 &&
          (before.compare(before.size() - 2, 2, "al") == 0 || before.compare(before.size() - 2, 2, ".g") == 0 ||
           before.compare(before.size() - 2, 2, ".e") == 0))
        continue;
      end = p + 1;
      break;
    }
    s.sentence = end == std::string::npos ? paragraph : paragraph.substr(0, end);
    while (!s.sentence.empty() && detail::is_space(s.sentence.back())) s.sentence.pop_back();
    if (!s.sentence.empty() && s.sentence.back() == ':') s.sentence.back() = '.';
    break;
  }
  return s;
}

}  // namespace notebook

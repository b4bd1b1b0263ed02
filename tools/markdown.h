// tools/markdown.h — the inline Markdown of the lessons' prose, as HTML (for the gallery, tools/gallery.cpp).
//
//   markdown::escape_html("a < b")          -> "a &lt; b"
//   markdown::inline_html("**bold** and *italic*, `code`, [a link](x.html)")
//       -> "<strong>bold</strong> and <em>italic</em>, <code>code</code>, <a href=\"x.html\">a link</a>"
//
// The text is escaped first (&, <, >, ", ' become entities), then the markup is converted, so nothing in a
// lesson's text can inject HTML. What counts as markup, kept deliberately narrow so that the arithmetic of the
// prose stays as written:
//   - `code`: a backtick pair; inside it nothing else is converted. An unmatched backtick stays a backtick.
//   - **strong** and *emphasis*: the opening run must touch the word after it (no space) and not follow a letter
//     or digit; the closing run must touch the word before it and not be followed by a letter or digit. So
//     `2 * 3 * 4`, `a*b`, `x ** 2` and an unmatched `*note` stay exactly as they are. They nest: **a *b* c**.
//   - [text](target): a link. A target without a scheme ("x.html", not "https://..." or "#top") is prefixed with
//     `link_base` (the gallery passes the path from out/ to the lesson's folder).
//   - \* \` \[ \] \\ : a backslash makes the next character literal.
// Underscores are never emphasis (d_head, n_buckets are names). Header-only: no engine, no BLAS.
#pragma once

#include <cctype>
#include <string>

namespace markdown {

inline std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace detail {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Length of the run of '*' starting at i.
inline size_t star_run(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size() && s[j] == '*') ++j;
  return j - i;
}

// A run of '*' at [i, i + len) can open emphasis: the next character is not a space (and exists), and the one
// before is not a letter or digit.
inline bool can_open(const std::string& s, size_t i, size_t len) {
  return i + len < s.size() && !is_space(s[i + len]) && (i == 0 || !is_word(s[i - 1]));
}

// ... can close it: the character before is not a space, and the one after is not a letter or digit.
inline bool can_close(const std::string& s, size_t i, size_t len) {
  return i > 0 && !is_space(s[i - 1]) && (i + len >= s.size() || !is_word(s[i + len]));
}

// Position of the closing run of exactly `len` stars for an opener ending at `from`, or npos. Runs of another
// length are stepped over whole (they belong to nested emphasis or are literal); code spans are skipped.
inline size_t find_closer(const std::string& s, size_t from, size_t len) {
  for (size_t i = from; i < s.size();) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      i += 2;
    } else if (s[i] == '`') {
      const size_t end = s.find('`', i + 1);
      i = end == std::string::npos ? i + 1 : end + 1;
    } else if (s[i] == '*') {
      const size_t run = star_run(s, i);
      if (run == len && i > from && can_close(s, i, run)) return i;
      i += run;
    } else {
      ++i;
    }
  }
  return std::string::npos;
}

inline bool has_scheme(const std::string& target) {
  if (!target.empty() && target[0] == '#') return true;  // an anchor on the same page
  const size_t colon = target.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i)
    if (!std::isalpha(static_cast<unsigned char>(target[i]))) return false;
  return true;
}

inline bool is_escapable(char c) { return c == '*' || c == '`' || c == '[' || c == ']' || c == '\\'; }

}  // namespace detail

// One line (or paragraph) of Markdown prose -> HTML, escaped. See the header for what is converted.
inline std::string inline_html(const std::string& s, const std::string& link_base = "") {
  using namespace detail;
  std::string out;
  std::string text;  // plain characters waiting to be escaped
  auto flush = [&] {
    out += escape_html(text);
    text.clear();
  };
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && is_escapable(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c == '`') {
      const size_t end = s.find('`', i + 1);
      if (end != std::string::npos && end > i + 1) {
        flush();
        out += "<code>" + escape_html(s.substr(i + 1, end - i - 1)) + "</code>";
        i = end + 1;
        continue;
      }
      text += c;
      ++i;
      continue;
    }
    if (c == '*') {
      const size_t run = star_run(s, i);
      if ((run == 1 || run == 2) && can_open(s, i, run)) {
        const size_t close = find_closer(s, i + run, run);
        if (close != std::string::npos) {
          flush();
          const char* tag = run == 2 ? "strong" : "em";
          out += std::string("<") + tag + ">" + inline_html(s.substr(i + run, close - i - run), link_base) + "</" +
                 tag + ">";
          i = close + run;
          continue;
        }
      }
      text += s.substr(i, run);  // a literal run: "2 * 3", "x ** 2", "***"
      i += run;
      continue;
    }
    if (c == '[') {
      const size_t close = s.find(']', i + 1);
      if (close != std::string::npos && close > i + 1 && close + 1 < s.size() && s[close + 1] == '(') {
        const size_t end = s.find(')', close + 2);
        const std::string target = end == std::string::npos ? "" : s.substr(close + 2, end - close - 2);
        if (!target.empty() && target.find_first_of(" \t") == std::string::npos) {
          flush();
          const std::string href = has_scheme(target) ? target : link_base + target;
          out += "<a href=\"" + escape_html(href) + "\">" + inline_html(s.substr(i + 1, close - i - 1), link_base) +
                 "</a>";
          i = end + 1;
          continue;
        }
      }
    }
    text += c;
    ++i;
  }
  flush();
  return out;
}

}  // namespace markdown

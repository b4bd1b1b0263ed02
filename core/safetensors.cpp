// core/safetensors.cpp — .safetensors reader and writer (see safetensors.h for the format).
//
// Reading, step by step, each step before anything its input could make large is allocated:
//   1. the 8-byte header length N: refused above kMaxHeaderLen or above what the file holds after it;
//   2. the N header bytes: must start with '{'; nesting deeper than the format's three levels is refused by a
//      scan of the text before the JSON parser sees it (a header of 10^8 '[' would otherwise cost the parser
//      gigabytes of stack bookkeeping); nlohmann::json parses it, and a callback refuses a name seen twice
//      (JSON parsers silently keep the last one);
//   3. every entry is checked (keys, dtype, shape, offsets, byte count), then the offsets together: sorted by
//      begin, they must tile [0, data size) exactly;
//   4. only then are the tensors allocated, and their bytes read straight into them.
// So what a load allocates is what the file's own bytes describe, never what a length field claims.
#include "core/safetensors.h"

#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>  // getpid, pread, close

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace core::safetensors {

namespace {

using nlohmann::json;

// The reference implementation (safetensors' Rust crate) refuses headers over 100 MB; so do we.
constexpr uint64_t kMaxHeaderLen = 100'000'000;
constexpr int64_t kMaxElements = int64_t(1) << 40;  // 4 TiB of float32: any larger shape is a corrupt header
constexpr size_t kMaxRank = 64;
// {  "name": {  "shape": [ ... ] } }: the deepest a valid header nests.
constexpr int kMaxDepth = 3;

bool host_is_little_endian() {
  const uint32_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Reverses the bytes of each `item`-byte value in p[0..n): little-endian file <-> big-endian host.
void swap_items(char* p, size_t n, size_t item) {
  for (size_t i = 0; i + item <= n; i += item) std::reverse(p + i, p + i + item);
}

// Every dtype the format defines, with its item size. Only F32 and I64 load into our tensors; the others are
// named in the message that refuses them rather than called unknown.
size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

// A tensor as the header describes it.
struct Entry {
  std::string name;
  std::string dtype;  // "F32" or "I64" once checked
  Shape shape;
  int64_t numel = 0;
  uint64_t begin = 0, end = 0;  // [begin, end) in the data
};

struct Header {
  std::vector<Entry> entries;  // sorted by offset
  std::map<std::string, std::string> metadata;
};

// 'name' quoted for a message.
std::string in_quotes(const std::string& name) { return "'" + printable(name) + "'"; }

// ---- writing -----------------------------------------------------------------------------------------------

// A JSON string literal; json's dump escapes quotes, backslashes and control bytes, and refuses bytes that are
// not UTF-8 (which no JSON reader would take).
std::string json_string(const std::string& s, const std::string& prefix, const std::string& what) {
  try {
    return json(s).dump();
  } catch (const json::exception&) {
    AZ_FAIL(prefix, what, " ", in_quotes(s), " is not valid UTF-8");
  }
}

std::string shape_json(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i > 0 ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

template <class T>
void append_le(std::string& out, const T* values, int64_t n) {
  const size_t start = out.size();
  const size_t bytes = static_cast<size_t>(n) * sizeof(T);
  out.resize(start + bytes);
  if (bytes == 0) return;
  std::memcpy(&out[start], values, bytes);
  if (!host_is_little_endian()) swap_items(&out[start], bytes, sizeof(T));
}

std::string encode(const File& f, const std::string& prefix) {
  std::set<std::string> names;
  const auto check_name = [&](const std::string& name) {
    AZ_CHECK(name != "__metadata__", prefix, "'__metadata__' is reserved for the metadata; it cannot name a tensor");
    AZ_CHECK(names.insert(name).second, prefix, "the name ", in_quotes(name), " is given to two tensors");
  };
  for (const auto& [name, t] : f.int_tensors) {
    check_name(name);
    AZ_CHECK(t.numel() == numel_of(t.shape), prefix, "tensor ", in_quotes(name), ": IntTensor of shape ", t.shape,
             " holds ", t.numel(), " values");
  }
  for (const auto& [name, t] : f.tensors) {
    check_name(name);
    AZ_CHECK(t.defined(), prefix, "tensor ", in_quotes(name), " is undefined");
  }

  // Header: int64 tensors first, then float32, each in the given order; offsets run on without gaps.
  std::string header = "{";
  uint64_t offset = 0;
  const auto add_entry = [&](const std::string& name, const char* dtype, const Shape& shape, uint64_t bytes) {
    if (header.size() > 1) header += ",";
    header += json_string(name, prefix, "tensor name") + ":{\"dtype\":\"" + dtype + "\",\"shape\":" +
              shape_json(shape) + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  };
  for (const auto& [name, t] : f.int_tensors) add_entry(name, "I64", t.shape, 8 * static_cast<uint64_t>(t.numel()));
  for (const auto& [name, t] : f.tensors) add_entry(name, "F32", t.shape(), 4 * static_cast<uint64_t>(t.numel()));
  if (!f.metadata.empty()) {
    if (header.size() > 1) header += ",";
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : f.metadata) {  // std::map: keys sorted
      header += (first ? "" : ",") + json_string(key, prefix, "metadata key") + ":" +
                json_string(value, prefix, "metadata value");
      first = false;
    }
    header += "}";
  }
  header += "}";
  // Spaces up to a multiple of 8, so that the data (at 8 + N) starts 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + offset);
  for (int b = 0; b < 8; ++b) out += static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * b)) & 0xFF);
  out += header;
  for (const auto& [name, t] : f.int_tensors) append_le(out, t.data.data(), t.numel());
  for (const auto& [name, t] : f.tensors) append_le(out, t.data(), t.numel());
  return out;
}


// ---- reading: the header -----------------------------------------------------------------------------------

// The deepest nesting of [ and { outside strings: a scan with no allocation, before the parser runs.
int nesting_depth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped character
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

json parse_json(const std::string& text, const std::string& prefix) {
  AZ_CHECK(!text.empty() && text[0] == '{', prefix, "the header must be a JSON object starting with '{'",
           text.empty() ? " (it is empty)" : "");
  AZ_CHECK(nesting_depth(text) <= kMaxDepth, prefix, "the header nests deeper than the ", kMaxDepth,
           " levels of {\"name\": {\"shape\": [...]}}");
  // The names of each object being parsed: a name seen twice in one object is refused.
  std::vector<std::set<std::string>> open;
  const json::parser_callback_t refuse_duplicates = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open.emplace_back();
    if (event == json::parse_event_t::object_end) open.pop_back();
    if (event == json::parse_event_t::key && !open.back().insert(parsed.get<std::string>()).second) {
      AZ_FAIL(prefix, "the name ", in_quotes(parsed.get<std::string>()), " appears twice in the header",
              depth > 1 ? " (inside one entry)" : "");
    }
    return true;
  };
  try {
    return json::parse(text, refuse_duplicates);
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..." -> from "parse error".
    std::string what = e.what();
    const size_t at = what.find("parse error");
    AZ_FAIL(prefix, "the header is not valid JSON: ", printable(at == std::string::npos ? what : what.substr(at)));
  }
}

uint64_t unsigned_value(const json& v, const std::string& prefix, const std::string& what) {
  AZ_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), prefix, what,
           " must be a non-negative integer, not ", printable(v.dump()));
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const json& v, const std::string& prefix) {
  const std::string at = prefix + "tensor " + in_quotes(name) + ": ";
  AZ_CHECK(v.is_object(), at, "expected {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}, not ",
           v.type_name());
  for (const auto& [key, value] : v.items()) {
    AZ_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", at, "unexpected key ", in_quotes(key),
             " (expected exactly dtype, shape, data_offsets)");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) AZ_CHECK(v.contains(key), at, "the key '", key, "' is missing");

  Entry e;
  e.name = name;
  AZ_CHECK(v["dtype"].is_string(), at, "dtype must be a string like \"F32\", not ", printable(v["dtype"].dump()));
  e.dtype = v["dtype"].get<std::string>();
  const size_t item = dtype_size(e.dtype);
  AZ_CHECK(item != 0, at, "unknown dtype ", in_quotes(e.dtype), " (the format's are BOOL, U8, I8, I16, U16, F16, BF16, ",
           "I32, U32, F32, F64, I64, U64, F8_E5M2, F8_E4M3)");
  AZ_CHECK(e.dtype == "F32" || e.dtype == "I64", at, "dtype ", e.dtype,
           " is not supported; only F32 and I64 load (convert before saving: t.float() or t.long())");

  const json& shape = v["shape"];
  AZ_CHECK(shape.is_array(), at, "shape must be a list of integers, not ", shape.type_name());
  AZ_CHECK(shape.size() <= kMaxRank, at, "shape has ", shape.size(), " dimensions, more than ", kMaxRank);
  e.numel = 1;
  for (const json& d : shape) {
    const uint64_t dim = unsigned_value(d, at, "every dimension of shape");
    AZ_CHECK(dim <= static_cast<uint64_t>(kMaxElements), at, "dimension ", dim, " is absurdly large (more than 2^40)");
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  for (int64_t d : e.shape) {
    if (d == 0) e.numel = 0;
  }
  if (e.numel != 0) {
    for (int64_t d : e.shape) {
      AZ_CHECK(d <= kMaxElements / e.numel, at, "shape ", e.shape, " has more than 2^40 elements");
      e.numel *= d;
    }
  }

  const json& offsets = v["data_offsets"];
  AZ_CHECK(offsets.is_array() && offsets.size() == 2, at, "data_offsets must be [begin, end], not ",
           printable(offsets.dump()));
  e.begin = unsigned_value(offsets[0], at, "data_offsets' begin");
  e.end = unsigned_value(offsets[1], at, "data_offsets' end");
  AZ_CHECK(e.begin <= e.end, at, "data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  const uint64_t expected = static_cast<uint64_t>(e.numel) * item;  // <= 2^43
  AZ_CHECK(e.end - e.begin == expected, at, "shape ", e.shape, " of ", e.dtype, " needs ", expected,
           " bytes but data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
  return e;
}

// The header text checked against a data section of `data_bytes` bytes.
Header parse_header(const std::string& text, uint64_t data_bytes, const std::string& prefix) {
  const json root = parse_json(text, prefix);
  Header h;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      AZ_CHECK(value.is_object(), prefix, "__metadata__ must be an object of strings, not ", value.type_name());
      for (const auto& [k, v] : value.items()) {
        AZ_CHECK(v.is_string(), prefix, "__metadata__ ", in_quotes(k), " must be a string, not ", printable(v.dump()));
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(key, value, prefix));
    const Entry& e = h.entries.back();
    AZ_CHECK(e.end <= data_bytes, prefix, "tensor ", in_quotes(e.name), ": data_offsets [", e.begin, ", ", e.end,
             "] reach past the end of the data (", data_bytes, " bytes)");
  }
  // Sorted by where they start (zero-size tensors before a tensor at the same place), the tensors must tile
  // the data: each begins where the previous one ends, the first at 0, the last ends at the data's end.
  std::stable_sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < h.entries.size(); ++i) {
    const Entry& e = h.entries[i];
    if (e.begin < covered) {
      const Entry& prev = h.entries[i - 1];
      AZ_FAIL(prefix, "tensor ", in_quotes(e.name), ": data_offsets [", e.begin, ", ", e.end, "] overlap the tensor ",
              in_quotes(prev.name), " at [", prev.begin, ", ", prev.end, "]");
    }
    AZ_CHECK(e.begin == covered, prefix, "the data bytes [", covered, ", ", e.begin,
             ") belong to no tensor (a gap before ", in_quotes(e.name), ")");
    covered = e.end;
  }
  AZ_CHECK(covered == data_bytes, prefix, "the last ", data_bytes - covered, " bytes of the data belong to no tensor (",
           "the tensors cover ", covered, " of ", data_bytes, ")");
  return h;
}

// ---- reading: the bytes ------------------------------------------------------------------------------------

// Reads n bytes at `offset` from the start of the input into dst; throws if fewer are there.
using ReadAt = std::function<void(uint64_t offset, char* dst, size_t n)>;

File decode(const Header& h, uint64_t data_start, const ReadAt& read_at) {
  File f;
  f.metadata = h.metadata;
  for (const Entry& e : h.entries) {
    const size_t bytes = static_cast<size_t>(e.end - e.begin);
    if (e.dtype == "F32") {
      Tensor t = Tensor::empty(e.shape);
      read_at(data_start + e.begin, reinterpret_cast<char*>(t.data()), bytes);
      if (!host_is_little_endian()) swap_items(reinterpret_cast<char*>(t.data()), bytes, 4);
      f.tensors.emplace_back(e.name, t);
    } else {
      IntTensor t(e.shape);
      read_at(data_start + e.begin, reinterpret_cast<char*>(t.data.data()), bytes);
      if (!host_is_little_endian()) swap_items(reinterpret_cast<char*>(t.data.data()), bytes, 8);
      f.int_tensors.emplace_back(e.name, std::move(t));
    }
  }
  return f;
}

// The 8-byte length and what it may be, given `size` bytes in all.
uint64_t header_length(const unsigned char* first8, uint64_t size, const std::string& prefix) {
  AZ_CHECK(size >= 8, prefix, "truncated: ", size, " bytes, fewer than the 8 of the header length");
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(first8[b]) << (8 * b);
  AZ_CHECK(n <= kMaxHeaderLen, prefix, "header length ", n, " is more than the ", kMaxHeaderLen,
           " bytes a header may have; the file is corrupt or not a .safetensors file");
  AZ_CHECK(n <= size - 8, prefix, "truncated: header length ", n, " exceeds the ", size - 8,
           " bytes after the length");
  return n;
}

// A regular file read by offset (pread). Its size, known from fstat, is what every length is checked against.
class FileInput {
 public:
  explicit FileInput(const std::string& path) : shown_(printable(path)) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) AZ_FAIL("safetensors: cannot open ", shown_, ": ", std::strerror(errno));
    struct stat st;
    const int err = ::fstat(fd_, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    // Every check needs the size up front; a pipe or device has none.
    const bool regular = err == 0 && S_ISREG(st.st_mode);
    if (err != 0 || !regular) {
      ::close(fd_);  // the destructor does not run when the constructor throws
      if (err != 0) fail(err);
      AZ_FAIL("safetensors: ", shown_, ": not a regular file (the reader checks lengths against the file's size)");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileInput() { ::close(fd_); }
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;

  uint64_t size() const { return size_; }
  void read_at(uint64_t offset, char* dst, size_t n) const {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, dst + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(errno);
      if (r == 0) AZ_FAIL("safetensors: ", shown_, ": truncated: the file shrank while it was read");
      got += static_cast<size_t>(r);
    }
  }

 private:
  [[noreturn]] void fail(int err) const {
    AZ_FAIL("safetensors: cannot read ", shown_, ": ", std::strerror(err));
  }

  std::string shown_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

// ---- public API --------------------------------------------------------------------------------------------

std::string to_bytes(const File& f) { return encode(f, "safetensors: cannot encode: "); }

void save(const std::string& path, const File& f) {
  core::write_file_atomically(path, encode(f, "safetensors: cannot write " + printable(path) + ": "), "safetensors");
}

File from_bytes(const std::string& bytes, const std::string& name) {
  const std::string prefix = "safetensors: " + printable(name) + ": ";
  const uint64_t size = bytes.size();
  const uint64_t n = header_length(reinterpret_cast<const unsigned char*>(bytes.data()), size, prefix);
  const Header h = parse_header(bytes.substr(8, n), size - 8 - n, prefix);
  return decode(h, 8 + n, [&](uint64_t offset, char* dst, size_t count) {
    if (count > 0) std::memcpy(dst, bytes.data() + offset, count);  // in range: parse_header checked it
  });
}

File load(const std::string& path) {
  const std::string prefix = "safetensors: " + printable(path) + ": ";
  FileInput in(path);
  unsigned char first8[8] = {};
  if (in.size() >= 8) in.read_at(0, reinterpret_cast<char*>(first8), 8);
  const uint64_t n = header_length(first8, in.size(), prefix);
  std::string text(static_cast<size_t>(n), '\0');
  in.read_at(8, text.data(), text.size());
  const Header h = parse_header(text, in.size() - 8 - n, prefix);
  return decode(h, 8 + n, [&](uint64_t offset, char* dst, size_t count) { in.read_at(offset, dst, count); });
}

}  // namespace core::safetensors

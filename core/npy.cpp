// core/npy.cpp — .npy reader and writer (see npy.h).
//
// The format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//
//   "\x93NUMPY"  major minor  header_len  header                                              data
//    6 bytes     1     1      2 bytes LE (v1.0) or 4 bytes LE (v2.0, v3.0)
//   header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + spaces + "\n"
//
// The header is a Python dict literal, padded so that the data starts at a multiple of 64 bytes. We write
// version 1.0 (2.0 only if the header would not fit in 65535 bytes) and read 1.0, 2.0 and 3.0 (3.0 only
// differs by allowing UTF-8 in the header, which never appears in the three keys we accept).
//
// The reader treats the bytes as untrusted and never reads a file whole before checking it: it reads the fixed
// preamble, then exactly the header length it announces (refused above kMaxHeaderLen), then checks the shape
// (overflow-checked, capped) and the dtype, and only then looks at the data. A regular file's size is compared
// with what the header needs before anything is allocated; a pipe or device (size unknown) is read in chunks,
// never more than the header promises plus one byte (to see whether the input goes on). So a lying file costs
// at most what its header legitimately describes — never its own size — and /dev/zero is refused at byte 8.
// All buffers go through the counting allocator (core/memory), so tests can see what a load allocated.
//
// Messages quote the path and header text through printable(): a file name or header with control bytes
// (ESC, BEL, NUL, ...) shows them as \x1b etc., so an error is always one line of printable ASCII.
#include "core/npy.h"

#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>  // getpid, read, close

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "core/memory.h"

namespace core::npy {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;
constexpr int64_t kMaxElements = int64_t(1) << 40;  // 4 TiB of float32: any larger shape is a corrupt header
constexpr size_t kMaxRank = 64;                     // NumPy 2 allows 64 dimensions (NumPy 1: 32)
// The header describes three keys; even 64 dimensions of 13 digits fit in ~1 KiB. NumPy itself refuses headers
// over 10 000 bytes by default. Format 1.0 cannot exceed 65535; a 2.0/3.0 length field above this is corrupt
// (it can announce up to 4 GiB, which we must not allocate on its word).
constexpr uint64_t kMaxHeaderLen = 65536;
// Data is read from pipes in chunks of this size (a multiple of every item size).
constexpr size_t kChunk = size_t(1) << 20;

// Buffers for file bytes count in core::memory like tensors do, so peak_bytes() covers a whole load.
using Buffer = std::vector<char, memory::CountingAllocator<char>>;

bool host_is_little_endian() {
  const uint32_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// ---- writing -----------------------------------------------------------------------------------------------

// "()", "(5,)", "(2, 3)" — Python's repr of a tuple, as NumPy writes it.
std::string shape_repr(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Magic, version, header length and the padded header: everything before the data.
std::string make_preamble(const char* descr, const Shape& shape) {
  std::string dict =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  for (int version = 1; version <= 2; ++version) {
    const size_t len_size = version == 1 ? 2 : 4;
    const size_t fixed = kMagicLen + 2 + len_size;
    // Pad with spaces so that fixed + header (ending in '\n') is a multiple of 64.
    const size_t unpadded = fixed + dict.size() + 1;
    const size_t header_len = dict.size() + (kAlign - unpadded % kAlign) % kAlign + 1;
    if (version == 1 && header_len > 0xFFFF) continue;
    std::string out(kMagic, kMagicLen);
    out += static_cast<char>(version);
    out += static_cast<char>(0);
    for (size_t b = 0; b < len_size; ++b) out += static_cast<char>((header_len >> (8 * b)) & 0xFF);
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    out += '\n';
    return out;
  }
  AZ_FAIL("npy: header too long");  // unreachable: a 4 GiB header would need billions of dimensions
}

// Element bytes in little-endian order.
template <class T>
void append_le(std::string& out, const T* values, int64_t n) {
  const size_t bytes = static_cast<size_t>(n) * sizeof(T);
  const size_t start = out.size();
  out.resize(start + bytes);
  if (bytes == 0) return;
  std::memcpy(&out[start], values, bytes);
  if (!host_is_little_endian()) {
    for (size_t i = start; i < out.size(); i += sizeof(T)) {
      for (size_t a = 0, b = sizeof(T) - 1; a < b; ++a, --b) std::swap(out[i + a], out[i + b]);
    }
  }
}


// ---- reading: the header dict ------------------------------------------------------------------------------

// What the header says, before it is checked against what the caller wants.
struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  int64_t numel = 0;
  size_t data_offset = 0;
};

// A recursive-descent parser for the one dict shape NumPy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// in any key order, with any whitespace and optional trailing commas. Values are strings, True/False, or
// tuples of integers; anything else (lists = structured dtypes, nested dicts, floats) is rejected with a
// message. The grammar has no recursion, so no input can exhaust the stack.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& prefix) : s_(text), prefix_(prefix) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_ws();
    expect('{', "the header must be a Python dict literal starting with '{'");
    skip_ws();
    while (!at('}')) {
      const std::string key = parse_string("a dict key");
      skip_ws();
      expect(':', "expected ':' after key '" + printable(key) + "'");
      skip_ws();
      if (key == "descr") {
        fail_if(seen_descr, "duplicate key 'descr'");
        seen_descr = true;
        if (at('[')) fail("structured dtypes (a list in 'descr') are not supported; save a plain float32 array");
        h.descr = parse_string("the value of 'descr'");
      } else if (key == "fortran_order") {
        fail_if(seen_order, "duplicate key 'fortran_order'");
        seen_order = true;
        h.fortran_order = parse_bool("fortran_order");
      } else if (key == "shape") {
        fail_if(seen_shape, "duplicate key 'shape'");
        seen_shape = true;
        h.shape = parse_shape();
      } else {
        fail("unexpected key '" + printable(key) + "' (expected exactly descr, fortran_order, shape)");
      }
      skip_ws();
      if (at(',')) {
        ++pos_;
        skip_ws();
      } else if (!at('}')) {
        fail("expected ',' or '}' after the value of '" + printable(key) + "'");
      }
    }
    ++pos_;  // '}'
    // NumPy pads the header with spaces and ends it with '\n'; nothing else may follow the dict.
    skip_ws();
    fail_if(pos_ != s_.size(), "unexpected text after the header dict");
    fail_if(!seen_descr, "header is missing the key 'descr'");
    fail_if(!seen_order, "header is missing the key 'fortran_order'");
    fail_if(!seen_shape, "header is missing the key 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { AZ_FAIL(prefix_, "malformed header: ", what); }
  void fail_if(bool cond, const std::string& what) const {
    if (cond) fail(what);
  }

  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void expect(char c, const std::string& what) {
    if (!at(c)) fail(what);
    ++pos_;
  }

  // Keys and descr are short ASCII; escapes never occur in what NumPy writes, so they are refused.
  std::string parse_string(const std::string& what) {
    if (!at('\'') && !at('"')) fail("expected a quoted string for " + what);
    const char quote = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      const char c = s_[pos_++];
      if (c == '\\' || c == '\n') fail("unsupported character in a string in " + what);
      if (out.size() >= 64) fail("string too long in " + what);
      out += c;
    }
    if (pos_ >= s_.size()) fail("unterminated string in " + what);
    ++pos_;  // closing quote
    return out;
  }

  bool parse_bool(const std::string& key) {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("the value of '" + key + "' must be True or False");
  }

  // A tuple of non-negative integers: (), (5,), (2, 3), (2, 3,). "(5)" is the integer 5 in Python, not a tuple,
  // and NumPy rejects it too. Python 2 wrote long integers as 5L; accepted for old files.
  Shape parse_shape() {
    expect('(', "the value of 'shape' must be a tuple like (2, 3)");
    Shape shape;
    bool trailing_comma = false;
    skip_ws();
    while (!at(')')) {
      if (pos_ >= s_.size()) fail("unbalanced parenthesis in 'shape'");
      if (at('-')) fail("negative dimension in 'shape'");
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("'shape' must contain only integers");
      int64_t d = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        d = d * 10 + (s_[pos_++] - '0');
        if (d > kMaxElements) fail("dimension in 'shape' is absurdly large (more than 2^40)");
      }
      if (at('L')) ++pos_;
      fail_if(shape.size() >= kMaxRank, "'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      shape.push_back(d);
      skip_ws();
      trailing_comma = false;
      if (at(',')) {
        ++pos_;
        trailing_comma = true;
        skip_ws();
      } else if (!at(')')) {
        fail(pos_ >= s_.size() ? "unbalanced parenthesis in 'shape'" : "expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;  // ')'
    if (shape.size() == 1 && !trailing_comma) fail("'shape' (n) is not a tuple; a 1-D shape is written (n,)");
    return shape;
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::string& prefix_;
};

uint64_t read_le(const unsigned char* bytes, size_t n) {
  uint64_t v = 0;
  for (size_t b = 0; b < n; ++b) v |= static_cast<uint64_t>(bytes[b]) << (8 * b);
  return v;
}

// ---- reading: where the bytes come from --------------------------------------------------------------------

// A forward-only byte source. The parser asks for exactly what the format says comes next, so it never holds
// more than one header and the data its shape needs.
class Input {
 public:
  virtual ~Input() = default;
  // Up to n bytes into buf; fewer only at the end of the input. Throws core::Error on a read error.
  virtual size_t read(char* buf, size_t n) = 0;
  // The bytes left, when known before reading them (memory, regular files); -1 for pipes and devices.
  virtual int64_t remaining() const = 0;
};

class MemoryInput : public Input {
 public:
  explicit MemoryInput(const std::string& bytes) : bytes_(bytes) {}
  size_t read(char* buf, size_t n) override {
    n = std::min(n, bytes_.size() - pos_);
    if (n > 0) std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  int64_t remaining() const override { return static_cast<int64_t>(bytes_.size() - pos_); }

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
};

// A file opened by path: a regular file (its size is known from fstat, so a header that does not match it is
// refused before any data is read), or a pipe, FIFO or device (read as a stream). Opening a FIFO waits for a
// writer, as cat does: that is how `--q <(python make_q.py)` works.
class FileInput : public Input {
 public:
  explicit FileInput(const std::string& path) : shown_(printable(path)) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) AZ_FAIL("npy: cannot open ", shown_, ": ", std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail(errno);
    // open() succeeds on a directory; say so instead of letting the first read fail with EISDIR.
    if (S_ISDIR(st.st_mode)) fail(EISDIR);
    // A regular file of size 0 may be a /proc file whose size is not known in advance: read it as a stream.
    if (S_ISREG(st.st_mode) && st.st_size > 0) size_ = static_cast<int64_t>(st.st_size);
  }
  ~FileInput() override { ::close(fd_); }
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;

  size_t read(char* buf, size_t n) override {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fd_, buf + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(errno);
      if (r == 0) break;  // end of file (or the writer of a pipe closed it)
      got += static_cast<size_t>(r);
    }
    consumed_ += static_cast<int64_t>(got);
    return got;
  }
  int64_t remaining() const override { return size_ < 0 ? -1 : std::max<int64_t>(size_ - consumed_, 0); }

 private:
  [[noreturn]] void fail(int err) const { AZ_FAIL("npy: cannot read ", shown_, ": ", std::strerror(err)); }

  std::string shown_;
  int fd_ = -1;
  int64_t size_ = -1;
  int64_t consumed_ = 0;
};

// Magic, version, header; shape checked and numel computed. The dtype is checked by the caller.
Header read_preamble(Input& in, const std::string& prefix) {
  unsigned char fixed[kMagicLen + 2];
  const size_t got = in.read(reinterpret_cast<char*>(fixed), sizeof fixed);
  AZ_CHECK(got == sizeof fixed && std::memcmp(fixed, kMagic, kMagicLen) == 0, prefix,
           "not a .npy file (it does not start with the magic string \\x93NUMPY)");
  const int major = fixed[6];
  const int minor = fixed[7];
  AZ_CHECK(minor == 0 && major >= 1 && major <= 3, prefix, "unsupported .npy format version ", major, ".", minor,
           " (supported: 1.0, 2.0, 3.0)");
  const size_t len_size = major == 1 ? 2 : 4;
  const size_t header_start = kMagicLen + 2 + len_size;
  unsigned char len_bytes[4];
  AZ_CHECK(in.read(reinterpret_cast<char*>(len_bytes), len_size) == len_size, prefix,
           "truncated: the file ends inside the header length");
  const uint64_t header_len = read_le(len_bytes, len_size);
  AZ_CHECK(header_len <= kMaxHeaderLen, prefix, "header length ", header_len, " is more than the ", kMaxHeaderLen,
           " bytes any .npy header of a float32 or int64 array needs; the file is corrupt");
  const int64_t left = in.remaining();
  AZ_CHECK(left < 0 || header_len <= static_cast<uint64_t>(left), prefix, "truncated: header length ", header_len,
           " exceeds the ", left, " bytes left in the file");
  std::string text(static_cast<size_t>(header_len), '\0');
  const size_t text_got = in.read(text.data(), text.size());
  AZ_CHECK(text_got == text.size(), prefix, "truncated: header length ", header_len, " exceeds the ", text_got,
           " bytes left in the file");

  Header h = DictParser(text, prefix).parse();
  h.data_offset = header_start + header_len;

  // numel with overflow checks: each dimension is <= 2^40 (parser), and the product must stay <= 2^40.
  bool has_zero = false;
  for (int64_t d : h.shape) has_zero = has_zero || d == 0;
  h.numel = 1;
  if (has_zero) {
    h.numel = 0;
  } else {
    for (int64_t d : h.shape) {
      AZ_CHECK(d <= kMaxElements / h.numel, prefix, "shape ", shape_str(h.shape),
               " has more than 2^40 elements; the header is corrupt");
      h.numel *= d;
    }
  }
  AZ_CHECK(!h.fortran_order || h.shape.size() < 2, prefix,
           "fortran_order=True (column-major) is not supported; save a C-ordered array (np.ascontiguousarray(a))");
  return h;
}

// "float64" for "<f8" etc., or "" when the descr is not a simple numeric type.
std::string dtype_name(const std::string& descr) {
  if (descr.size() < 3) return "";
  const char kind = descr[1];
  const std::string size = descr.substr(2);
  int bytes = 0;
  for (char c : size) {
    if (c < '0' || c > '9' || bytes > 1000) return "";
    bytes = bytes * 10 + (c - '0');
  }
  const std::string bits = std::to_string(bytes * 8);
  switch (kind) {
    case 'f':
      return "float" + bits;
    case 'i':
      return "int" + bits;
    case 'u':
      return "uint" + bits;
    case 'c':
      return "complex" + bits;
    case 'b':
      return bytes == 1 ? "bool" : "";
    default:
      return "";
  }
}

// A message for a descr the caller cannot take. `wanted` is e.g. "float32 '<f4'"; `fix` the NumPy call.
// `target` is the little-endian descr a big-endian file should be converted to.
[[noreturn]] void reject_dtype(const std::string& prefix, const std::string& descr, const std::string& wanted,
                               const std::string& target, const std::string& fix) {
  const std::string shown = printable(descr);
  const std::string name = dtype_name(descr);
  if (!descr.empty() && descr[0] == '>' && !name.empty()) {
    AZ_FAIL(prefix, "dtype '", shown, "' (", name, ") is big-endian; only little-endian is supported (save ",
            "a.astype('", target, "'))");
  }
  AZ_FAIL(prefix, "dtype '", shown, "'", name.empty() ? "" : " (" + name + ")", " is not supported; expected ", wanted,
          " (", fix, ")");
}

template <class T>
T load_le(const char* p) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (!host_is_little_endian()) {
    for (size_t i = 0, j = sizeof(T) - 1; i < j; ++i, --j) std::swap(b[i], b[j]);
  }
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// The data of `h`: exactly numel * itemsize bytes must follow the header — fewer means a truncated file, more
// means a header that does not describe the data. `allocate()` is called once the size is known to be right,
// then `decode(bytes, n, offset)` with consecutive pieces (offset in bytes from the start of the data; every
// piece a whole number of items).
//
// A regular file's size is checked first, so the tensor is allocated only for data that is there, and read
// straight into it through one chunk buffer. A stream's size is unknown: its data is collected in chunks until
// the header's count is reached (memory grows with what the stream actually supplies, never past what the
// header promises), then one more byte is asked for to see whether the input goes on.
template <class Allocate, class Decode>
void read_data(Input& in, const Header& h, size_t itemsize, const std::string& prefix, Allocate allocate,
               Decode decode) {
  const uint64_t expected = static_cast<uint64_t>(h.numel) * itemsize;  // <= 2^43, no overflow
  const auto truncated = [&](uint64_t found) {
    AZ_FAIL(prefix, "truncated: expected ", expected, " bytes of data for shape ", shape_str(h.shape), ", found ",
            found);
  };
  const auto check_no_more = [&] {
    char extra;
    AZ_CHECK(in.read(&extra, 1) == 0, prefix, "unexpected bytes after the data (expected ", expected,
             " bytes of data for shape ", shape_str(h.shape), "; the input goes on)");
  };
  const int64_t left = in.remaining();
  if (left >= 0) {
    const uint64_t found = static_cast<uint64_t>(left);
    if (found < expected) truncated(found);
    AZ_CHECK(found == expected, prefix, found - expected, " unexpected bytes after the data (expected ", expected,
             " bytes of data for shape ", shape_str(h.shape), ", found ", found, ")");
    allocate();
    Buffer chunk(static_cast<size_t>(std::min<uint64_t>(expected, kChunk)));
    for (uint64_t done = 0; done < expected;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(expected - done, chunk.size()));
      const size_t got = in.read(chunk.data(), want);
      if (got < want) truncated(done + got);  // the file shrank while we read it
      decode(chunk.data(), got, static_cast<size_t>(done));
      done += got;
    }
    check_no_more();  // the file grew while we read it
    return;
  }
  std::vector<Buffer> chunks;
  uint64_t done = 0;
  while (done < expected) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(expected - done, kChunk));
    chunks.emplace_back(want);
    const size_t got = in.read(chunks.back().data(), want);
    done += got;
    if (got < want) truncated(done);
  }
  check_no_more();
  allocate();
  size_t offset = 0;
  for (Buffer& c : chunks) {
    decode(c.data(), c.size(), offset);
    offset += c.size();
    Buffer().swap(c);  // free each chunk once it is in the tensor
  }
}

Tensor load_float(Input& in, const std::string& name) {
  const std::string prefix = "npy: " + printable(name) + ": ";
  const Header h = read_preamble(in, prefix);
  if (h.descr != "<f4") {
    reject_dtype(prefix, h.descr, "float32 '<f4'", "<f4",
                 h.descr.size() >= 2 && (h.descr[1] == 'i' || h.descr[1] == 'u')
                     ? "integer arrays load with load_int; or save float32: a.astype(np.float32)"
                     : "save float32: a.astype(np.float32)");
  }
  Tensor t;
  read_data(
      in, h, 4, prefix, [&] { t = Tensor::empty(h.shape); },
      [&](const char* p, size_t n, size_t offset) {
        float* out = t.data() + offset / 4;
        for (size_t i = 0; i < n / 4; ++i) out[i] = load_le<float>(p + 4 * i);
      });
  return t;
}

IntTensor load_int64(Input& in, const std::string& name) {
  const std::string prefix = "npy: " + printable(name) + ": ";
  const Header h = read_preamble(in, prefix);
  size_t itemsize = 0;
  if (h.descr == "<i8") {
    itemsize = 8;
  } else if (h.descr == "<i4") {
    itemsize = 4;
  } else {
    reject_dtype(prefix, h.descr, "int64 '<i8' or int32 '<i4'", h.descr == ">i4" ? "<i4" : "<i8",
                 "save a.astype(np.int64)");
  }
  IntTensor t;
  read_data(
      in, h, itemsize, prefix, [&] { t = IntTensor(h.shape); },
      [&](const char* p, size_t n, size_t offset) {
        int64_t* out = t.data.data() + offset / itemsize;
        for (size_t i = 0; i < n / itemsize; ++i)
          out[i] = itemsize == 8 ? load_le<int64_t>(p + 8 * i) : load_le<int32_t>(p + 4 * i);
      });
  return t;
}

}  // namespace

// ---- public API --------------------------------------------------------------------------------------------

void save(const std::string& path, const Tensor& t) {
  AZ_CHECK(t.defined(), "npy: cannot write ", printable(path), ": the tensor is undefined");
  std::string bytes = make_preamble("<f4", t.shape());
  append_le(bytes, t.data(), t.numel());
  core::write_file_atomically(path, bytes, "npy");
}

void save(const std::string& path, const IntTensor& t) {
  AZ_CHECK(t.numel() == numel_of(t.shape), "npy: cannot write ", printable(path), ": IntTensor of shape ", t.shape, " holds ",
           t.numel(), " values");
  std::string bytes = make_preamble("<i8", t.shape);
  append_le(bytes, t.data.data(), t.numel());
  core::write_file_atomically(path, bytes, "npy");
}

Tensor load_from_bytes(const std::string& bytes, const std::string& name) {
  MemoryInput in(bytes);
  return load_float(in, name);
}

IntTensor load_int_from_bytes(const std::string& bytes, const std::string& name) {
  MemoryInput in(bytes);
  return load_int64(in, name);
}

Tensor load(const std::string& path) {
  FileInput in(path);
  return load_float(in, path);
}

IntTensor load_int(const std::string& path) {
  FileInput in(path);
  return load_int64(in, path);
}

}  // namespace core::npy

// tests/test_safetensors.cpp — core/safetensors: round trips, the bytes as the format specifies them (checked by
// hand, so a reader in Python needs nothing of ours), files arranged as other writers arrange them, every kind of
// malformed header refused in one printable line, and saves that fail leaving no file behind.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/safetensors.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
namespace st = core::safetensors;

namespace {

using testing::error_of;
using testing::TempDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string u64_le(uint64_t v) {
  std::string s;
  for (int b = 0; b < 8; ++b) s += static_cast<char>((v >> (8 * b)) & 0xFF);
  return s;
}

// A file from a header text and data bytes, without padding (the reader must not rely on it).
std::string make_file(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

std::string f32_bytes(const std::vector<float>& values) {
  std::string s(4 * values.size(), '\0');
  if (!values.empty()) std::memcpy(&s[0], values.data(), s.size());  // the test hosts are little-endian
  return s;
}

bool one_printable_line(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return !s.empty();
}

bool same_bytes(const core::Tensor& a, const core::Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

st::File sample_file() {
  core::Rng rng(7);
  st::File f;
  f.tensors.emplace_back("embed.weight", core::randn({5, 3}, rng));
  f.tensors.emplace_back("scale", core::Tensor::scalar(-0.0f));
  f.tensors.emplace_back("empty", core::Tensor::zeros({0, 4}));
  f.tensors.emplace_back("special", core::Tensor::from_vector({4}, {INFINITY, -INFINITY, NAN, 1e-45f}));
  f.int_tensors.emplace_back("ids", core::IntTensor::from_vector({3}, {INT64_MIN, -1, INT64_MAX}));
  f.int_tensors.emplace_back("step", core::IntTensor::from_vector({}, {1234}));
  f.metadata = {{"scheme", "longformer"}, {"context", "512"}, {"note", "quote \" backslash \\ tab \t"}};
  return f;
}

}  // namespace

TEST_CASE("safetensors: round trip keeps names, shapes, exact bits and metadata; re-writing gives the same bytes") {
  TempDir dir("safetensors");
  const st::File f = sample_file();
  const std::string path = dir / "m.safetensors";
  st::save(path, f);
  const st::File back = st::load(path);

  REQUIRE(back.tensors.size() == f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    CAPTURE(f.tensors[i].first);
    CHECK(back.tensors[i].first == f.tensors[i].first);  // the order given
    CHECK(same_bytes(back.tensors[i].second, f.tensors[i].second));
  }
  REQUIRE(back.int_tensors.size() == f.int_tensors.size());
  for (size_t i = 0; i < f.int_tensors.size(); ++i) {
    CHECK(back.int_tensors[i].first == f.int_tensors[i].first);
    CHECK(back.int_tensors[i].second.shape == f.int_tensors[i].second.shape);
    CHECK(back.int_tensors[i].second.data == f.int_tensors[i].second.data);
  }
  CHECK(back.metadata == f.metadata);

  // Deterministic: the same File gives the same bytes, and so does what was read back.
  const std::string bytes = read_bytes(path);
  CHECK(st::to_bytes(f) == bytes);
  CHECK(st::to_bytes(back) == bytes);
  st::save(path, back);
  CHECK(read_bytes(path) == bytes);
  // from_bytes reads what load reads.
  CHECK(st::to_bytes(st::from_bytes(bytes, "mem")) == bytes);
  // No temporary file stays beside the result.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("safetensors: the bytes are the format's, as a reader in any language expects them") {
  st::File f;
  f.tensors.emplace_back("w", core::Tensor::from_vector({2}, {1.5f, -2.0f}));
  f.int_tensors.emplace_back("ids", core::IntTensor::from_vector({1, 1}, {258}));
  f.metadata = {{"format", "pt"}};
  const std::string bytes = st::to_bytes(f);

  // 8-byte little-endian length N; N bytes of JSON padded with spaces so that the data starts 8-aligned.
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[b])) << (8 * b);
  CHECK(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 8 + 8);  // one int64, two float32
  const std::string header = bytes.substr(8, n);
  const std::string json =
      "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[0,8]},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
      "\"__metadata__\":{\"format\":\"pt\"}}";
  CHECK(header.substr(0, json.size()) == json);
  CHECK(header.find_first_not_of(' ', json.size()) == std::string::npos);
  CHECK(header.size() - json.size() < 8);

  // The data: 258 as int64 little-endian, then 1.5f and -2.0f as IEEE-754 little-endian.
  const std::string data = bytes.substr(8 + n);
  CHECK(data.substr(0, 8) == std::string("\x02\x01\0\0\0\0\0\0", 8));
  CHECK(data.substr(8, 4) == std::string("\0\0\xc0\x3f", 4));  // 1.5f = 0x3fc00000
  CHECK(data.substr(12, 4) == std::string("\0\0\0\xc0", 4));   // -2.0f = 0xc0000000

  // An empty File is a valid file: {} padded to 8 bytes, no data.
  const std::string empty = st::to_bytes(st::File{});
  CHECK(empty == u64_le(8) + "{}      ");
  const st::File none = st::from_bytes(empty, "empty");
  CHECK((none.tensors.empty() && none.int_tensors.empty() && none.metadata.empty()));
}

TEST_CASE("safetensors: reads files arranged as other writers arrange them") {
  // Keys in another order than the data, __metadata__ first, whitespace and newlines, no padding, a zero-size
  // tensor sharing its offset with the next one: all allowed by the format.
  const std::string header =
      "{ \"__metadata__\": {\"format\": \"np\"},\n"
      "  \"b\": {\"shape\": [2], \"dtype\": \"F32\", \"data_offsets\": [8, 16]},\n"
      "  \"z\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 8]},\n"
      "  \"a\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 8]} }";
  const std::string data = std::string("\x07\0\0\0\0\0\0\0", 8) + f32_bytes({3.0f, 4.0f});
  const st::File f = st::from_bytes(make_file(header, data), "other.safetensors");
  REQUIRE(f.int_tensors.size() == 1);
  CHECK(f.int_tensors[0].first == "a");
  CHECK(f.int_tensors[0].second.shape == core::Shape{});
  CHECK(f.int_tensors[0].second.data[0] == 7);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "z");  // in the order of their data: z (empty, at 8) then b
  CHECK(f.tensors[0].second.shape() == core::Shape{0});
  CHECK(f.tensors[1].first == "b");
  CHECK(f.tensors[1].second.to_vector() == std::vector<float>{3.0f, 4.0f});
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "np"}});
}

TEST_CASE("safetensors: every malformed file is refused in one printable line naming it and what is wrong") {
  TempDir dir("safetensors");
  const std::string ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  const std::string d8 = f32_bytes({1, 2});
  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "fewer than the 8 of the header length"},
      {"truncated length", "\x10\0\0", "fewer than the 8 of the header length"},
      {"length beyond the file", u64_le(1000) + ok, "truncated: header length 1000 exceeds"},
      {"absurd length", u64_le(uint64_t(1) << 62) + ok, "is more than the 100000000 bytes"},
      {"not an object", make_file("[1, 2]", ""), "must be a JSON object starting with '{'"},
      {"bad JSON", make_file("{\"a\": {\"dtype\": ", ""), "not valid JSON"},
      {"trailing garbage", make_file(ok + " x", d8), "not valid JSON"},
      {"not UTF-8", make_file("{\"\xff\": 1}", ""), "not valid JSON"},
      {"too deep", make_file("{\"a\": {\"shape\": [[2]]}}", ""), "nests deeper than the 3 levels"},
      {"entry not an object", make_file("{\"a\": 5}", ""), "tensor 'a': expected {\"dtype\""},
      {"missing key", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", d8), "the key 'data_offsets' is missing"},
      {"extra key", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", d8),
       "unexpected key 'x'"},
      {"unknown dtype", make_file("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", d8),
       "unknown dtype 'F33'"},
      {"unsupported dtype", make_file("{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", d8),
       "dtype F16 is not supported; only F32 and I64 load"},
      {"negative dimension", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d8),
       "every dimension of shape must be a non-negative integer, not -2"},
      {"fractional dimension", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", d8),
       "must be a non-negative integer, not 2.0"},
      {"huge shape", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576,2],\"data_offsets\":[0,8]}}", d8),
       "has more than 2^40 elements"},
      {"shape vs bytes", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d8),
       "shape (3) of F32 needs 12 bytes but data_offsets [0, 8] hold 8"},
      {"offsets not a pair", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", d8),
       "data_offsets must be [begin, end], not [0]"},
      {"end before begin", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", d8),
       "data_offsets [8, 0] end before they begin"},
      {"out of range", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d8),
       "data_offsets [0, 16] reach past the end of the data (8 bytes)"},
      {"overlap",
       make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 f32_bytes({1, 2, 3})),
       "tensor 'b': data_offsets [4, 12] overlap the tensor 'a' at [0, 8]"},
      {"gap",
       make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                 f32_bytes({1, 2, 3})),
       "the data bytes [4, 8) belong to no tensor (a gap before 'b')"},
      {"gap at the start", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d8),
       "the data bytes [0, 4) belong to no tensor"},
      {"bytes left over", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d8),
       "the last 4 bytes of the data belong to no tensor"},
      {"duplicate names",
       make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 d8),
       "the name 'a' appears twice in the header"},
      {"duplicate key in an entry",
       make_file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d8),
       "the name 'dtype' appears twice in the header (inside one entry)"},
      {"metadata not strings", make_file("{\"__metadata__\":{\"steps\":100}}", ""),
       "__metadata__ 'steps' must be a string, not 100"},
      {"control bytes in a name", make_file("{\"\\u001b[31m\": 5}", ""), "tensor '\\x1b[31m'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string message = error_of([&] { st::from_bytes(c.bytes, "bad.safetensors"); });
    CHECK(message.rfind("safetensors: bad.safetensors: ", 0) == 0);
    CHECK_MESSAGE(message.find(c.expected) != std::string::npos, message);
    CHECK_MESSAGE(one_printable_line(message), message);
    // The file reader says the same, with the path in place of the name.
    const std::string path = dir / "bad.safetensors";
    write_bytes(path, c.bytes);
    const std::string from_file = error_of([&] { st::load(path); });
    CHECK(from_file == "safetensors: " + path + message.substr(std::string("safetensors: bad.safetensors").size()));
  }
}

TEST_CASE("safetensors: missing files, directories and pipes are one line each") {
  TempDir dir("safetensors");
  CHECK(error_of([&] { st::load(dir / "nope.safetensors"); }).find("safetensors: cannot open ") == 0);
  CHECK(error_of([&] { st::load(dir.path.string()); }).find("Is a directory") != std::string::npos);
  CHECK(error_of([&] { st::load("/dev/null"); }).find("not a regular file") != std::string::npos);
}

TEST_CASE("safetensors: a refused save leaves no file behind") {
  TempDir dir("safetensors");
  const std::string path = dir / "m.safetensors";
  const auto nothing_written = [&] { return fs::is_empty(dir.path); };
  const core::Tensor t = core::Tensor::zeros({2});

  st::File dup;
  dup.tensors.emplace_back("x", t);
  dup.int_tensors.emplace_back("x", core::IntTensor({1}));
  CHECK(error_of([&] { st::save(path, dup); }) ==
        "safetensors: cannot write " + path + ": the name 'x' is given to two tensors");
  CHECK(nothing_written());

  st::File reserved;
  reserved.tensors.emplace_back("__metadata__", t);
  CHECK(error_of([&] { st::save(path, reserved); }).find("'__metadata__' is reserved") != std::string::npos);
  CHECK(nothing_written());

  st::File undefined;
  undefined.tensors.emplace_back("u", core::Tensor());
  CHECK(error_of([&] { st::save(path, undefined); }).find("tensor 'u' is undefined") != std::string::npos);
  CHECK(nothing_written());

  st::File bad_utf8;
  bad_utf8.tensors.emplace_back("caf\xe9", t);
  const std::string message = error_of([&] { st::save(path, bad_utf8); });
  CHECK(message.find("tensor name 'caf\\xe9' is not valid UTF-8") != std::string::npos);
  CHECK(one_printable_line(message));
  CHECK(nothing_written());

  st::File good;
  good.tensors.emplace_back("x", t);
  CHECK(error_of([&] { st::save(dir / "no_such_dir/m.safetensors", good); }).find("safetensors: cannot write ") == 0);
  CHECK(nothing_written());

  // A failed save keeps the previous file whole.
  st::save(path, good);
  const std::string before = read_bytes(path);
  CHECK(error_of([&] { st::save(path, dup); }) != "(no core::Error was thrown)");
  CHECK(read_bytes(path) == before);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("safetensors: every truncation and single-byte corruption is loaded or refused, never crashes") {
  const std::string bytes = st::to_bytes(sample_file());
  for (size_t len = 0; len < bytes.size(); ++len) {
    CAPTURE(len);
    const std::string message = error_of([&] { st::from_bytes(bytes.substr(0, len), "cut"); });
    CHECK(message.rfind("safetensors: cut: ", 0) == 0);  // every proper prefix is refused
  }
  core::Rng rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string corrupt = bytes;
    const size_t at = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(bytes.size())));
    corrupt[at] = static_cast<char>(rng.randint(0, 256));
    try {
      st::from_bytes(corrupt, "fuzz");
    } catch (const core::Error& e) {
      CHECK_MESSAGE(one_printable_line(e.what()), e.what());
    }
  }
}

// core/safetensors.h — read and write .safetensors files (the format of Hugging Face's `safetensors`), float32
// (F32, core::Tensor) and int64 (I64, core::IntTensor) tensors plus a string-to-string `__metadata__` map.
//
// The format, in full (https://huggingface.co/docs/safetensors):
//
//   N (8 bytes, little-endian u64)   header (N bytes of UTF-8 JSON)                        data (raw bytes)
//   header = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ..., "__metadata__": {"k": "v"}}
//
// data_offsets are [begin, end) in bytes from the start of the data; values are little-endian, C order. A reader
// needs only a JSON parser: in NumPy, `np.frombuffer(data[begin:end], "<f4").reshape(shape)`.
//
// Writing is deterministic and atomic. The same File gives the same bytes: int64 tensors first, then float32
// ones (so every tensor starts at a multiple of its item size, as the reference writer arranges by sorting on
// alignment), each group in the order given; header keys in that order, `__metadata__` last with its keys sorted;
// the header padded with spaces to a multiple of 8. The file is written to a temporary name and renamed, so it
// appears complete or not at all; a refused save leaves no file behind.
//
// Reading treats the bytes as untrusted and refuses anything the format forbids, in one line of printable ASCII
// naming the file and what is wrong:
//   safetensors: m.safetensors: tensor 'b': data_offsets [16, 40] overlap the tensor 'a' at [0, 24]
// The header length is checked against the file's size and a cap (100 MB, the reference reader's) before the
// header is read, and the offsets and shapes are checked before any tensor is allocated: a file costs at most
// the memory its own bytes describe. Checked: the header is one JSON object starting with '{'; no name appears
// twice; each tensor has exactly dtype, shape, data_offsets; the dtype is known (and F32 or I64 to be loaded);
// shape × item size = end − begin; the tensors cover the data exactly, with no gap, overlap or byte left over.
// Loaded tensors come back in the order of their data (for a file we wrote: the order they were given), so
// loading and saving again gives the same bytes.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace core::safetensors {

struct File {
  std::vector<std::pair<std::string, Tensor>> tensors;         // F32
  std::vector<std::pair<std::string, IntTensor>> int_tensors;  // I64
  std::map<std::string, std::string> metadata;                 // "__metadata__" (written only when not empty)
};

// The bytes of the file f describes; the same File gives the same bytes. Throws on a duplicate name, an
// undefined tensor, a name that is not UTF-8, or the reserved name "__metadata__".
std::string to_bytes(const File& f);
// to_bytes written atomically to `path` (temporary file + rename; parent directories are not created).
void save(const std::string& path, const File& f);

File load(const std::string& path);
// The same reader on bytes in memory; `name` stands for the path in error messages. For tests and fuzzing.
File from_bytes(const std::string& bytes, const std::string& name);

}  // namespace core::safetensors

// core/atomic_file.h — writing a file so that it appears complete or not at all.
//
//   core::write_file_atomically("out/q.npy", bytes, "npy");   // or throws core::Error "npy: cannot write ...: ..."
//
// The bytes go to `path.tmp.<pid>` in the same directory (so that the rename stays within one filesystem), which
// is then renamed over `path`: a reader sees the old file or the complete new one, never a prefix, and a failed
// write leaves the old file as it was and no temporary file behind. Missing parent directories are NOT created:
// a typo in an output path should fail loudly (callers that own an output folder create it themselves).
// Used by the .npy and .safetensors writers and by lra/files.h (which creates the parents first).
#pragma once

#include <string>

namespace core {

// Throws core::Error "WHO: cannot write PATH: reason" (PATH escaped to printable ASCII).
void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& who);

}  // namespace core

// cli/run.cpp — `attnzoo run SCHEME`: apply a scheme's kernel to your own .npy tensors (e.g. to cross-check
// against NumPy or PyTorch), optionally with gradients, the effective attention and the pattern; with --decode
// (causal only) the output is computed one token at a time through the scheme's decoder (attention/decode.h).
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"

namespace cli {

namespace fs = std::filesystem;
using attention::Scheme;
using core::Shape;
using core::Tensor;

namespace {

// Limit of `run --save-attn/--save-mask`: an n×m matrix per head is materialised (2^28 floats = 1 GiB).
constexpr int64_t kMaxMatrixElements = int64_t(1) << 28;

}  // namespace

int cmd_run(const std::vector<std::string>& words) {
  const Args args = parse_args("run", words,
                               {{"q", true, false}, {"k", true, false}, {"v", true, false}, {"out", true, false},
                                {"causal", false, false}, {"seed", true, false}, {"set", true, true},
                                {"grad-out", true, false}, {"grads", true, false}, {"save-attn", true, false},
                                {"save-mask", true, false}, {"decode", false, false}});

  // 1. Everything that can be checked without reading a tensor: the scheme, its settings, the options.
  const std::string name = scheme_name(args);
  const Scheme& scheme = attention::find_scheme(name);
  const attention::Config cfg = scheme.configure(args.all("set"), args.has("causal"), parse_seed(args));

  for (const char* required : {"q", "k", "v", "out"})
    AZ_CHECK(args.has(required), "run: missing --", required,
             " (usage: attnzoo run SCHEME --q Q.npy --k K.npy --v V.npy --out O.npy)");
  AZ_CHECK(args.has("grad-out") == args.has("grads"), "run: --grad-out G.npy and --grads DIR go together (",
           args.has("grads") ? "--grad-out" : "--grads", " is missing)");
  const bool decode = args.has("decode");
  AZ_CHECK(!decode || args.has("causal"), "run ", name,
           ": --decode generates one token at a time, which only causal attention can: add --causal");
  AZ_CHECK(!decode || !args.has("grad-out"), "run ", name,
           ": --decode computes no gradients (it is inference); drop --grad-out/--grads or --decode");
  AZ_CHECK(!args.has("save-mask") || scheme.has_pattern(), "run ", name,
           ": --save-mask: this scheme has no sparsity pattern (see `attnzoo list`)");

  // Output paths: existing directories, and no file named twice (the second write would clobber the first).
  std::vector<std::pair<std::string, std::string>> outputs = {{"out", args.get("out")}};
  for (const char* opt : {"save-attn", "save-mask"})
    if (args.has(opt)) outputs.push_back({opt, args.get(opt)});
  if (args.has("grads")) {
    const fs::path dir(args.get("grads"));
    std::error_code ec;
    AZ_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), "--grads ", dir.string(),
             " exists and is not a directory");
    for (const char* f : {"dq.npy", "dk.npy", "dv.npy"}) outputs.push_back({"grads", (dir / f).string()});
  }
  for (const auto& [opt, path] : outputs) check_output_file(path, opt, opt == "grads");  // every file, before any work
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      AZ_CHECK(fs::absolute(outputs[i].second).lexically_normal() != fs::absolute(outputs[j].second).lexically_normal(),
               "run: --", outputs[j].first, " and --", outputs[i].first, " name the same file ", outputs[i].second);

  // 2. Read and check the inputs.
  Tensor q = load_bhnd(args.get("q"), "q");  // (B, H, n, d)
  Tensor k = load_bhnd(args.get("k"), "k");  // (B, H, m, d)
  Tensor v = load_bhnd(args.get("v"), "v");  // (B, H, m, d)
  Scheme::check_qkv(q, k, v, "run " + name);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), m = k.size(2);
  const Shape attn_shape = {B, H, n, m};
  AZ_CHECK(!args.has("save-mask") || m == n, "run ", name, ": --save-mask writes the n x n pattern of self-attention, ",
           "so k and v need as many positions as q (q has n=", n, ", k has m=", m, ")");
  if (args.has("save-attn") || args.has("save-mask"))
    AZ_CHECK(core::numel_of(attn_shape) <= kMaxMatrixElements, "run ", name, ": --save-attn/--save-mask would write ",
             attn_shape, " = ", core::numel_of(attn_shape), " floats; the limit is ", kMaxMatrixElements);
  AZ_CHECK(!decode || m == n, "run ", name, ": --decode is self-attention, one token at a time, so k and v need as ",
           "many positions as q (q has n=", n, ", k has m=", m, ")");
  Tensor grad_out;
  if (args.has("grad-out")) {
    grad_out = core::npy::load(args.get("grad-out"));
    AZ_CHECK(grad_out.shape() == q.shape(), "--grad-out ", args.get("grad-out"), ": shape ", grad_out.shape(),
             " must equal the output shape ", q.shape(), " (B, H, n, d)");
    check_finite(grad_out, "--grad-out " + args.get("grad-out"));
  }

  // 3. Compute everything.
  PendingFiles files;
  const bool want_grads = grad_out.defined();
  if (want_grads)
    for (Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  std::string state;  // with --decode: what the decoder kept after the last token
  Tensor out;
  if (decode) {
    const std::unique_ptr<attention::Decoder> decoder = attention::make_decoder(scheme, cfg, n);
    out = attention::decode_all(*decoder, q, k, v);  // (B, H, n, d), row t from tokens 0..t only
    state = "; decoder state after " + std::to_string(n) + " tokens: " + std::to_string(decoder->state_floats()) +
            " floats (" + decoder->state() + ")";
  } else {
    out = scheme.kernel(q, k, v, cfg);  // (B, H, n, d)
  }
  AZ_CHECK(out.shape() == q.shape(), name, ": the kernel returned shape ", out.shape(), ", expected ", q.shape());
  check_finite(out, name + ": the output");
  files.add(args.get("out"), out.detach());

  if (want_grads) {
    // d sum(out * G) / d(q, k, v): backward seeded with G.
    AZ_CHECK(out.requires_grad(), name, ": the kernel recorded no graph, so it cannot be differentiated");
    out.backward(grad_out);
    const std::vector<std::pair<const char*, const Tensor*>> leaves = {{"dq", &q}, {"dk", &k}, {"dv", &v}};
    for (const auto& [label, leaf] : leaves) {
      Tensor g = leaf->grad();
      if (!g.defined()) g = Tensor::zeros(leaf->shape());  // the output does not depend on this input
      check_finite(g, name + ": gradient " + label);
      files.add((fs::path(args.get("grads")) / (std::string(label) + ".npy")).string(), g);
    }
    files.make_directory(args.get("grads"));
  }

  core::NoGradGuard no_grad;
  const Tensor q0 = q.detach(), k0 = k.detach(), v0 = v.detach();
  if (args.has("save-attn")) {
    const Tensor A = scheme.effective_attention(q0, k0, v0, cfg);  // (B, H, n, m)
    AZ_CHECK(A.shape() == attn_shape, name, ": effective_attention returned shape ", A.shape(), ", expected ",
             attn_shape);
    check_finite(A, name + ": the effective attention");
    files.add(args.get("save-attn"), A);
  }
  if (args.has("save-mask")) {
    const Tensor P = scheme.data_pattern(q0, k0, cfg);  // (B, H, n, m), 1 = may attend
    AZ_CHECK(P.shape() == attn_shape, name, ": pattern has shape ", P.shape(), ", expected ", attn_shape);
    files.add(args.get("save-mask"), P);
  }

  // 4. Write all files, or none; then say so in one line on stdout, as `show`, `bench` and `lra` do:
  //    "run full: wrote out.npy (2,4,128,64), grads/dq.npy (2,4,128,64), ...".
  files.write_all();
  std::string line = "run " + name + ": wrote";
  for (size_t i = 0; i < files.files().size(); ++i)
    line += (i ? ", " : " ") + files.files()[i].first + " " + core::shape_str(files.files()[i].second.shape());
  std::cout << line << state << std::endl;
  return kExitOk;
}

}  // namespace cli

// core/state.h — a module's state by name: every parameter and buffer, written into a model either exactly
// (a checkpoint of the same model, a saved model file) or as far as it carries over (fine-tuning a pretrained
// model with a new head, or with another attention scheme). The one loader of the project: lra's best-validation
// checkpoints, lm::load_model and the `--init` of fine-tuning all go through it.
//
//   core::nn::NamedTensors saved = core::nn::state_of(pretrained);   // parameters, then buffers, by name
//   core::nn::load_exact(model, saved, "checkpoint");                 // every name, every shape, nothing left over
//   core::nn::Carried c = core::nn::carry_over(model, saved, {{"net.encoder.", "single.encoder."}}, "model.safetensors");
//   // c.carried: copied; c.fresh: the model's tensors nothing was saved for (kept as initialised);
//   // c.unused: saved tensors the model has no place for; c.reshaped: same name, other shape (kept as initialised)
//
// Names are the ones Module::named_parameters() / named_buffers() give ("encoder.block0.attn.w_q.weight").
// Both loaders check everything before the first write, so a state that does not fit leaves the model as it
// was, and they copy into the model's own tensors (the ones its layers and its optimiser hold).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/nn.h"

namespace core::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The model's parameters followed by its buffers (the tensors themselves, not copies).
NamedTensors state_of(const Module& model);
// Deep copies, detached from any graph: what a checkpoint keeps.
NamedTensors copy_of(const NamedTensors& tensors);

// Writes `saved` into the model's tensors of the same names. The names must match both ways and the shapes must
// agree; otherwise a core::Error of one line naming the first tensor that does not fit:
//   "WHERE has no tensor 'x', which the model needs" | "WHERE: tensor 'x' has shape (2, 3), the model needs (2, 4)"
//   | "WHERE: tensor 'x' is not in the model".
void load_exact(Module& model, const NamedTensors& saved, const std::string& where);

// What carry_over did, tensor by tensor (model names; saved names for `unused`).
struct Carried {
  std::vector<std::string> carried;   // copied from the saved state
  std::vector<std::string> fresh;     // nothing saved under this name: left as the model initialised it
  std::vector<std::string> reshaped;  // saved under this name with another shape: left as initialised
                                      // ("name: saved (64, 256), model (64, 1024)")
  std::vector<std::string> unused;    // saved, but the model has no tensor of that name
};

// A saved name is renamed by the first rule whose `from` prefix it starts with ({from, to}: the prefix is
// replaced); names no rule matches are kept as they are. Then every model tensor with a saved tensor of the same
// name and shape receives it; the rest is reported. Throws (one line, "WHERE: ...") when two saved names map to
// one model name, or when nothing at all carries over (the state is surely for another model).
Carried carry_over(Module& model, const NamedTensors& saved,
                   const std::vector<std::pair<std::string, std::string>>& rename, const std::string& where);

}  // namespace core::nn

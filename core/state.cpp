// core/state.cpp — see state.h: exact and partial loading of a module's named tensors.
#include "core/state.h"

#include <algorithm>
#include <map>

#include "core/autograd.h"
#include "core/error.h"

namespace core::nn {

namespace {

std::string shape_text(const Tensor& t) { return shape_str(t.shape()); }

std::map<std::string, const Tensor*> by_name(const NamedTensors& tensors, const std::string& where) {
  std::map<std::string, const Tensor*> out;
  for (const auto& [name, t] : tensors) {
    AZ_CHECK(out.emplace(name, &t).second, where, ": the tensor '", name, "' appears twice");
  }
  return out;
}

void copy_into(Tensor& dst, const Tensor& src) { std::copy_n(src.data(), src.numel(), dst.data()); }

}  // namespace

NamedTensors state_of(const Module& model) {
  NamedTensors out = model.named_parameters();
  for (auto& b : model.named_buffers()) out.push_back(std::move(b));
  return out;
}

NamedTensors copy_of(const NamedTensors& tensors) {
  NoGradGuard no_grad;
  NamedTensors out;
  out.reserve(tensors.size());
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.detach().clone());
  return out;
}

void load_exact(Module& model, const NamedTensors& saved, const std::string& where) {
  NamedTensors mine = state_of(model);
  std::map<std::string, const Tensor*> left = by_name(saved, where);
  std::vector<const Tensor*> source;
  source.reserve(mine.size());
  // every check before the first write
  for (const auto& [name, t] : mine) {
    const auto it = left.find(name);
    AZ_CHECK(it != left.end(), where, " has no tensor '", name, "', which the model needs");
    AZ_CHECK(it->second->shape() == t.shape(), where, ": tensor '", name, "' has shape ", shape_text(*it->second),
             ", the model needs ", shape_text(t));
    source.push_back(it->second);
    left.erase(it);
  }
  AZ_CHECK(left.empty(), where, ": tensor '", left.empty() ? std::string() : left.begin()->first,
           "' is not in the model");
  for (size_t i = 0; i < mine.size(); ++i) copy_into(mine[i].second, *source[i]);
}

Carried carry_over(Module& model, const NamedTensors& saved,
                   const std::vector<std::pair<std::string, std::string>>& rename, const std::string& where) {
  // saved names -> model names
  std::map<std::string, std::pair<std::string, const Tensor*>> renamed;  // model name -> (saved name, tensor)
  for (const auto& [name, t] : saved) {
    std::string target = name;
    for (const auto& [from, to] : rename) {
      if (name.rfind(from, 0) == 0) {
        target = to + name.substr(from.size());
        break;
      }
    }
    const auto [it, inserted] = renamed.emplace(target, std::make_pair(name, &t));
    AZ_CHECK(inserted, where, ": the tensors '", it->second.first, "' and '", name, "' both map to '", target, "'");
  }
  Carried c;
  NamedTensors mine = state_of(model);
  std::vector<std::pair<Tensor*, const Tensor*>> copies;
  for (auto& [name, t] : mine) {
    const auto it = renamed.find(name);
    if (it == renamed.end()) {
      c.fresh.push_back(name);
      continue;
    }
    const Tensor& src = *it->second.second;
    if (src.shape() == t.shape()) {
      c.carried.push_back(name);
      copies.emplace_back(&t, &src);
    } else {
      c.reshaped.push_back(name + ": saved " + shape_text(src) + ", model " + shape_text(t));
    }
    renamed.erase(it);
  }
  for (const auto& [target, source] : renamed) c.unused.push_back(source.first);
  std::sort(c.unused.begin(), c.unused.end());
  AZ_CHECK(!copies.empty(), where, ": not one tensor carries over (no saved name and shape matches the model's; ",
           "is it a model of another kind?)");
  for (auto& [dst, src] : copies) copy_into(*dst, *src);
  return c;
}

}  // namespace core::nn

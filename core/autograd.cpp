// core/autograd.cpp — recording ops, the backward pass, and freeing the graph.
#include "core/autograd.h"

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/ops_elementwise.h"
#include "core/parallel.h"

namespace core {

namespace {
thread_local bool t_grad_enabled = true;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

EnableGradGuard::EnableGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { t_grad_enabled = previous_; }

bool will_record(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward,
              std::vector<Tensor> saved) {
  if (!t_grad_enabled) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || t.requires_grad();
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->saved = std::move(saved);
  node->backward = std::move(backward);
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
  return out;
}

// ---- tearing long graphs down without recursion ----------------------------------------------------------
// Dropping the last handle to the output of a 10,000-op chain would otherwise destroy node -> input -> node ...
// recursively and overflow the stack. Each dying node hands its inputs' nodes to a thread-local list instead,
// and the outermost destructor empties that list in a loop.
Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  for (Tensor& in : inputs) {
    TensorImpl* impl = in.impl();
    // Only when this handle is the last one does releasing it free the input (and its node) right now.
    if (impl && impl->grad_fn && in.impl_ptr().use_count() == 1) pending.push_back(std::move(impl->grad_fn));
  }
  inputs.clear();
  saved.clear();
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may push more nodes; handled by this loop, not by recursion
  }
  draining = false;
}

// ---- gradient accumulation -------------------------------------------------------------------------------
void BackwardContext::add_grad(size_t i, const Tensor& g) {
  if (!needs_grad(i) || !g.defined()) return;
  AZ_CHECK(g.shape() == inputs[i].shape(), "backward of an op: gradient for input ", i, " has shape ", g.shape(),
           " but the input has shape ", inputs[i].shape());
  Tensor& slot = grads_[i];
  // The first gradient may alias another tensor (e.g. add passes grad_out through); later ones make a new sum
  // rather than writing into it.
  slot = slot.defined() ? add(slot, g) : g;
}

namespace {
// += into a leaf's .grad; the leaf owns its gradient storage, so it is copied the first time.
void accumulate_into_leaf(TensorImpl* leaf, const Tensor& g) {
  if (!leaf->grad) {
    Tensor copy = Tensor::empty(g.shape());
    float* dst = copy.data();
    const float* src = g.data();
    detail::parallel_chunks(g.numel(), [&](int64_t begin, int64_t end) {
      if (end > begin) std::memcpy(dst + begin, src + begin, static_cast<size_t>(end - begin) * sizeof(float));
    });
    leaf->grad = copy.impl_ptr();
    return;
  }
  float* dst = leaf->grad->storage->data;
  const float* src = g.data();
  detail::parallel_chunks(g.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) dst[k] += src[k];
  });
}

const char* freed_message() {
  return "backward: this graph was already freed by an earlier backward() — gradients were not accumulated "
         "twice. Run the forward pass again, or pass retain_graph=true to the first backward()";
}
}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  AZ_CHECK(!root.impl()->graph_freed, freed_message());
  AZ_CHECK(root.requires_grad(), "backward: the tensor does not require grad (no input of the ops that made it "
                                 "has requires_grad set, or it was computed under NoGradGuard)");

  // 1. Topological order of the tensors that carry a grad_fn, by an iterative depth-first search.
  //    order ends up with every tensor after all the tensors it was computed from.
  // (order holds owning pointers: freeing one node in step 3 must not destroy tensors still to be visited.)
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> visited;
  struct Frame {
    TensorImpl* impl;
    size_t next_input;
  };
  std::vector<Frame> stack;
  stack.push_back({root.impl(), 0});
  visited.insert(root.impl());
  while (!stack.empty()) {
    Frame& top = stack.back();
    Node* node = top.impl->grad_fn.get();
    if (node && top.next_input < node->inputs.size()) {
      TensorImpl* in = node->inputs[top.next_input++].impl();
      if (in && in->requires_grad && !visited.count(in)) {
        AZ_CHECK(!in->graph_freed, freed_message());
        visited.insert(in);
        stack.push_back({in, 0});
      }
      continue;
    }
    order.push_back(top.impl->shared_from_this());
    stack.pop_back();
  }

  // 2. Walk it in reverse: each node turns its output's gradient into its inputs' gradients.
  NoGradGuard no_grad;  // gradients are plain values: no graph for the backward pass itself
  std::unordered_map<TensorImpl*, Tensor> grads;
  grads[root.impl()] = grad_output;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* impl = it->get();
    auto found = grads.find(impl);
    if (found == grads.end()) continue;  // no gradient reached this tensor
    Tensor g = std::move(found->second);
    grads.erase(found);
    if (!impl->grad_fn) {  // a leaf: accumulate with +=
      accumulate_into_leaf(impl, g);
      continue;
    }
    Node& node = *impl->grad_fn;
    std::vector<Tensor> input_grads(node.inputs.size());
    Tensor out(impl->shared_from_this());
    BackwardContext ctx(node.inputs, node.saved, out, g, input_grads);
    node.backward(ctx);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!input_grads[i].defined()) continue;
      TensorImpl* in = node.inputs[i].impl();
      Tensor& slot = grads[in];
      slot = slot.defined() ? add(slot, input_grads[i]) : input_grads[i];
    }
  }

  // 3. Free the graph: every node drops its inputs and saved tensors, so intermediate values die now.
  if (!retain_graph) {
    for (auto& impl : order) {
      if (impl->grad_fn) {
        impl->grad_fn.reset();
        impl->graph_freed = true;
      }
    }
  }
}

}  // namespace core

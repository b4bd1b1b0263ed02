// core/autograd.h — reverse-mode automatic differentiation: the graph node, how ops record themselves,
// and the switch that turns recording off.
//
// The whole engine in four sentences:
//  1. An op computes its output, then calls record(out, "name", {inputs...}, backward_fn).
//  2. If recording is on and some input requires grad, out gets a Node (its grad_fn) holding the inputs,
//     any saved tensors and the backward function; otherwise nothing is recorded.
//  3. out.backward() sorts the graph topologically (iteratively: a 10,000-op chain is fine), calls each
//     node's backward_fn once in reverse order, and accumulates into the leaves' grad() with +=.
//  4. The graph is then freed: nodes drop their inputs, so memory goes back to what the leaves hold.
//
// A backward function receives everything as arguments (inputs, saved tensors, the output's value and its
// gradient). It must never capture the output handle: out -> node -> lambda -> out would be a shared_ptr
// cycle that leaks the graph.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"

namespace core {

// What a backward function sees.
class BackwardContext {
 public:
  BackwardContext(const std::vector<Tensor>& inputs, const std::vector<Tensor>& saved, const Tensor& out,
                  const Tensor& grad_out, std::vector<Tensor>& grads)
      : inputs(inputs), saved(saved), out(out), grad_out(grad_out), grads_(grads) {}

  const std::vector<Tensor>& inputs;  // the op's inputs, in the order given to record()
  const std::vector<Tensor>& saved;   // extra tensors the op saved (e.g. a dropout mask, softmax stats)
  const Tensor& out;                  // the op's output value (data only; do not record ops on it)
  const Tensor& grad_out;             // dLoss/dout, same shape as out

  bool needs_grad(size_t i) const { return inputs[i].defined() && inputs[i].requires_grad(); }
  // dLoss/dinputs[i] += g. g must have the input's shape. Several calls for one input accumulate.
  void add_grad(size_t i, const Tensor& g);

 private:
  std::vector<Tensor>& grads_;
};

using BackwardFn = std::function<void(BackwardContext&)>;

struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  std::vector<Tensor> saved;
  BackwardFn backward;
  ~Node();  // tears long chains down iteratively (no deep recursion of shared_ptr destructors)
};

// Attach a node to `out` when recording is on and an input requires grad. Returns out.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward,
              std::vector<Tensor> saved = {});

// True when `record` would record for these inputs (lets an op skip saving work it would not need).
bool will_record(std::initializer_list<const Tensor*> inputs);

// RAII: no graph is recorded while it lives (this thread only). Nests.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// RAII: graph recording ON while it lives (this thread only), even inside a backward function, where the engine
// has turned it off. For backward passes that must rebuild and differentiate a piece of the forward graph,
// e.g. reversible layers recomputing F and G. Nests; restores the previous state.
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// The engine behind Tensor::backward (exposed for tests).
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace core

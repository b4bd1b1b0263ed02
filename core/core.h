// core/core.h — the whole engine in one include: tensors, autograd, every op family, nn layers, optimisers,
// random numbers, .npy files, timing and gradcheck. Lessons and attention schemes include this (figures:
// plot/plot.h).
#pragma once

#include "core/autograd.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/memory.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/random.h"
#include "core/timing.h"
#include "core/tensor.h"
#include "core/gradcheck.h"
#include "core/nn.h"
#include "core/npy.h"
#include "core/optim.h"

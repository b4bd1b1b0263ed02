// lra/lra.h — the Long Range Arena tasks (Tay et al. 2021) in one include.
//
//   dataset.h     lra::Dataset, batches (ids + key_padding_mask), splits, the BatchStream for training
//   listops.h     ListOps: generator, tokenizer (fixed brackets), parser/evaluator, official TSV files
//   pathfinder.h  Pathfinder / Path-X: our generator, sizes 16..128, PNG samples
//   text.h        byte-level Text (IMDb, aclImdb folders) and Retrieval (AAN pairs TSV)
//   books.h       offline Text and Retrieval from the KJV Bible: which book? and same book?
//   fashion.h     offline Image: Fashion-MNIST (28 x 28 gray) from Debian's dataset-fashion-mnist IDX files
//   cifar.h       Image with --data: grayscale CIFAR-10 from the binary batches
//   tasks.h       every task by name: lra::load_task({"listops", ...}) -> train/val/test
//
// Token maps at a glance (details in each header):
//   task          vocab  PAD  classes  length                 tokens
//   listops         16    0     10     <= 2000 (500..1999)    digits 1..10, MIN 11, MAX 12, MED 13, SM 14, "]" 15
//   text           257    0      2     <= max_len (4000)      byte b -> b + 1 (IMDb, with --data)
//   text (KJV)     257    0    9 | 66  max_len (1024)         byte b -> b + 1, which book? (groups | books)
//   retrieval      257    0      2     2 x <= max_len (4000)  byte b -> b + 1, pair task (two towers; AAN)
//   retrieval(KJV) 257    0      2     2 x max_len (1024)     byte b -> b + 1, pair task: same book?
//   image          256    -     10     784 (Fashion-MNIST)    gray value
//                                      1024 (CIFAR-10, --data)
//   pathfinderS    256    -      2     S*S                    gray value
// No task has a CLS token: attention::SequenceClassifier mean-pools over the mask.
#pragma once

#include "lra/books.h"
#include "lra/cifar.h"
#include "lra/dataset.h"
#include "lra/fashion.h"
#include "lra/listops.h"
#include "lra/pathfinder.h"
#include "lra/tasks.h"
#include "lra/text.h"

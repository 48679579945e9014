//===- ChannelPermutation.cpp - the search of sparsec-permute-channels ===//
#include "ChannelPermutation.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/ChannelClasses.h"
#include "sparsec/Sparsity/Permutation.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Threading.h"
#include "llvm/Support/raw_ostream.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <atomic>
#include <chrono>
#include <map>

using namespace mlir;

namespace sparsec {
namespace {

/// Composes a recorded permutation attribute with a new one.
void recordPermutation(Operation *op, StringRef attr, ArrayRef<int64_t> perm) {
  SmallVector<int64_t> composed(perm.begin(), perm.end());
  if (auto old = op->getAttrOfType<DenseI64ArrayAttr>(attr))
    for (size_t j = 0; j < perm.size(); ++j)
      composed[j] = old[perm[j]];
  op->setAttr(attr, DenseI64ArrayAttr::get(op->getContext(), composed));
}

int64_t inputChannels(Operation *op) {
  if (auto linear = dyn_cast<LinearOp>(op))
    return linear.getReductionSize();
  return cast<Conv2DOp>(op).getInput().getType().getDimSize(1);
}

SmallVector<int64_t> inverse(ArrayRef<int64_t> perm) {
  SmallVector<int64_t> inv(perm.size());
  for (size_t j = 0; j < perm.size(); ++j)
    inv[perm[j]] = j;
  return inv;
}

/// Permutes one layer's weight rows (and bias) in place of a class rewrite.
LogicalResult permuteLayerRows(Operation *op, ArrayRef<int64_t> perm) {
  // Reuse the class machinery on a class holding just this layer.
  OpBuilder b(op);
  for (unsigned index : {1u, 2u}) {
    if (index >= op->getNumOperands())
      continue;
    Value v = op->getOperand(index);
    auto cst = v.getDefiningOp<arith::ConstantOp>();
    auto type = cast<RankedTensorType>(v.getType());
    if (!cst || !type.getElementType().isF32())
      return failure();
    auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
    std::vector<float> data;
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
      AsmResourceBlob *blob = resource.getRawHandle().getBlob();
      if (!blob)
        return failure();
      auto raw = blob->getData();
      data.assign(reinterpret_cast<const float *>(raw.data()),
                  reinterpret_cast<const float *>(raw.data()) + raw.size() / 4);
    } else if (dense) {
      for (float x : dense.getValues<float>())
        data.push_back(x);
    } else {
      return failure();
    }
    int64_t rows = type.getDimSize(0), inner = data.size() / rows;
    permuteRows(data, rows, inner, perm);
    auto owned = std::make_shared<std::vector<float>>(std::move(data));
    AsmResourceBlob blob(
        ArrayRef<char>(reinterpret_cast<const char *>(owned->data()),
                       owned->size() * 4),
        alignof(float), [owned](void *, size_t, size_t) mutable { owned.reset(); },
        false);
    Value replacement = arith::ConstantOp::create(
        b, v.getLoc(),
        cast<TypedAttr>(DenseResourceElementsAttr::get(type, "permuted", std::move(blob))));
    op->setOperand(index, replacement);
  }
  return success();
}

struct ClassTask {
  int classId;
  std::vector<PermutableLayer *> layers; // producers (gyro) or siblings (asp)
  /// HiNM layers whose rows follow the class order without a say in it
  /// (depthwise convolutions).
  std::vector<PermutableLayer *> followers;
  std::vector<int64_t> perm;
  std::string note;
};

} // namespace

/// new row j = old row perm[j].
void permuteRows(std::vector<float> &m, int64_t rows, int64_t cols,
                 ArrayRef<int64_t> perm) {
  std::vector<float> out(m.size());
  for (int64_t j = 0; j < rows; ++j)
    std::copy_n(m.begin() + perm[j] * cols, cols, out.begin() + j * cols);
  m = std::move(out);
}

/// Input channel j = old channel perm[j] in a GEMM view whose K axis holds
/// `channels` channels (hwc: channel fastest; chw: channel slowest).
void permuteInputs(std::vector<float> &m, int64_t rows, int64_t cols,
                   int64_t channels, bool chw, ArrayRef<int64_t> perm) {
  std::vector<float> out(m.size());
  int64_t spatial = cols / channels;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t s = 0; s < spatial; ++s)
      for (int64_t j = 0; j < channels; ++j) {
        int64_t to = chw ? j * spatial + s : s * channels + j;
        int64_t from = chw ? perm[j] * spatial + s : s * channels + perm[j];
        out[r * cols + to] = m[r * cols + from];
      }
  m = std::move(out);
}

LogicalResult permuteChannels(ModuleOp module,
                              std::vector<PermutableLayer> &layers,
                              const PermutationOptions &options) {
  bool gyro = options.method == "gyro";
  auto start = std::chrono::steady_clock::now();
  auto remaining = [&]() {
    if (options.budgetSeconds <= 0)
      return 0.0;
    double used = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    return std::max(1e-3, options.budgetSeconds - used);
  };
  MLIRContext *ctx = module.getContext();

  for (func::FuncOp func : module.getOps<func::FuncOp>()) {
    ChannelClasses classes(func);
    std::map<int, ClassTask> tasks;
    for (PermutableLayer &layer : layers) {
      if (layer.op->getParentOfType<func::FuncOp>() != func)
        continue;
      if (gyro && layer.pattern == "hinm") {
        int id = classes.classOfOutput(layer.op);
        if (id >= 0)
          tasks[id].layers.push_back(&layer);
      } else if (!gyro && layer.pattern == "nm" && !layer.chw) {
        int id = classes.classOfInput(layer.op);
        if (id >= 0)
          tasks[id].layers.push_back(&layer);
      }
    }
    if (gyro)
      for (auto &[id, task] : tasks)
        for (PermutableLayer &layer : layers)
          if (layer.pattern == "hinm" &&
              llvm::is_contained(classes.get(id).depthwise, layer.op))
            task.followers.push_back(&layer);
    std::vector<ClassTask *> work;
    for (auto &[id, task] : tasks) {
      task.classId = id;
      // Siblings / co-parents must agree on the structure they search for.
      PermutableLayer *first = task.layers.front();
      bool uniform = llvm::all_of(task.layers, [&](PermutableLayer *l) {
        return l->v == first->v && l->n == first->n && l->m == first->m;
      });
      if (!uniform) {
        first->op->emitRemark("sparsec-permute-channels: layers sharing channels use "
                              "different patterns; not permuted");
        continue;
      }
      if (classes.get(id).blocked && !options.explicitPermutes)
        continue;
      work.push_back(&task);
    }

    // The searches are independent: run them on all cores.
    std::atomic<int64_t> done{0};
    int64_t total = work.size();
    parallelForEach(ctx, work, [&](ClassTask *task) {
      PermutableLayer *first = task->layers.front();
      Rng rng = Rng::forLayer(options.seed, first->name);
      if (gyro) {
        std::vector<GyroLayerView> views;
        for (PermutableLayer *l : task->layers)
          views.push_back({l->saliency->data(), l->cols, l->nnzVec});
        GyroStageAOptions a;
        if (!options.schedule.empty())
          a.schedule = options.schedule;
        a.maxTrialsPerE = options.tries;
        a.timeBudgetSeconds = remaining();
        GyroStageAResult result = gyroStageA(views, first->rows, first->v, rng, a);
        for (int64_t r : result.rowOrder)
          if (r < first->rows)
            task->perm.push_back(r);
        // Co-parents search jointly, and depthwise layers of the class follow
        // the order without being searched: keep it only if none of them
        // loses saliency at the vector level.
        std::vector<PermutableLayer *> affected = task->layers;
        for (PermutableLayer *l : task->followers)
          affected.push_back(l);
        if (affected.size() > 1)
          for (PermutableLayer *l : affected) {
            std::vector<float> permuted(*l->saliency);
            permuteRows(permuted, l->rows, l->cols, task->perm);
            auto keptVectors = [&](const std::vector<float> &sal) {
              HiNMConfig config{l->v, l->nnzVec, l->n, l->m};
              auto tiles = selectHiNMVectors(sal.data(), l->rows, l->cols, config);
              double kept = 0;
              for (size_t t = 0; t < tiles.size(); ++t)
                for (int64_t r = t * l->v; r < std::min<int64_t>(l->rows, (t + 1) * l->v); ++r)
                  for (int64_t k : tiles[t])
                    kept += sal[r * l->cols + k];
              return kept;
            };
            if (keptVectors(permuted) < keptVectors(*l->saliency)) {
              task->perm.clear();
              task->note = "a co-parent would lose saliency";
              break;
            }
          }
      } else {
        // Siblings' |w| stacked along rows: (R·spatial) x C per layer.
        int64_t channels = inputChannels(first->op);
        std::vector<float> stacked;
        int64_t rows = 0;
        for (PermutableLayer *l : task->layers) {
          stacked.insert(stacked.end(), l->saliency->begin(), l->saliency->end());
          rows += l->rows * (l->cols / channels);
        }
        ChannelPermOptions c;
        c.n = first->n;
        c.m = first->m;
        c.stripeGroupSize = options.window;
        c.escapeAttempts = options.escapes;
        c.timeBudgetSeconds = remaining();
        c.strategy = options.method == "swap" ? ChannelPermStrategy::ChannelSwap
                                              : ChannelPermStrategy::Auto;
        // The exhaustive window search is quadratic in stripes and linear in
        // rows; on 2 cores it is affordable up to a few hundred channels.
        // Wider layers use the iteration-budgeted progressive swap (apex does
        // the same above 2048 channels with a wall-clock limit).
        c.progressiveColumns = 256;
        // The swap baseline's escapes re-converge over every stripe pair;
        // on wide layers it runs as the plain greedy search.
        if (options.method == "swap" && channels > c.progressiveColumns)
          c.escapeAttempts = 0;
        ChannelPermResult result =
            options.method == "swap"
                ? channelSwapSearch(stacked.data(), rows, channels, rng, c)
                : searchChannelPermutation(stacked.data(), rows, channels, rng, c);
        task->perm = result.perm;
        if (result.skipped)
          task->perm.clear();
        // Siblings share the permutation; keep it only if no sibling loses
        // (the search maximises their sum).
        for (PermutableLayer *l : task->layers) {
          if (task->perm.empty())
            break;
          int64_t lrows = l->rows * (l->cols / channels);
          const float *sal = l->saliency->data();
          double before = nmKeptMagnitude(sal, lrows, channels, {}, l->n, l->m);
          double after =
              nmKeptMagnitude(sal, lrows, channels, task->perm, l->n, l->m);
          if (after < before) {
            task->perm.clear();
            task->note = "a sibling would lose saliency";
          }
        }
      }
      int64_t finished = ++done;
      if (options.progress)
        llvm::errs() << "\rsparsec: permutation search " << finished << "/"
                     << total << "   ";
    });
    if (options.progress && total)
      llvm::errs() << "\n";

    // Apply serially: the graph and the layers' in-memory views together.
    for (ClassTask *task : work) {
      ArrayRef<int64_t> perm = task->perm;
      if (perm.empty() || llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
        continue;
      const ChannelClass &cls = classes.get(task->classId);
      if (!cls.blocked) {
        if (failed(classes.apply(task->classId, perm)))
          return func.emitError("sparsec-permute-channels: could not apply a channel "
                                "permutation");
        for (Operation *op : cls.producers)
          recordPermutation(op, "sparsec.row_perm", perm);
        for (Operation *op : cls.depthwise)
          recordPermutation(op, "sparsec.row_perm", perm);
        for (Operation *op : cls.consumers)
          recordPermutation(op, "sparsec.col_perm", perm);
        for (PermutableLayer &l : layers) {
          if (llvm::is_contained(cls.producers, l.op) ||
              llvm::is_contained(cls.depthwise, l.op)) {
            permuteRows(*l.weight, l.rows, l.cols, perm);
            permuteRows(*l.saliency, l.rows, l.cols, perm);
          }
          if (llvm::is_contained(cls.consumers, l.op)) {
            int64_t channels = inputChannels(l.op);
            permuteInputs(*l.weight, l.rows, l.cols, channels, l.chw, perm);
            permuteInputs(*l.saliency, l.rows, l.cols, channels, l.chw, perm);
          }
        }
        continue;
      }
      // Nothing can absorb it: an explicit permute op, listed in the report.
      auto reason = StringAttr::get(ctx, cls.blockReason);
      if (gyro) {
        for (PermutableLayer *l : task->layers) {
          if (failed(permuteLayerRows(l->op, perm)))
            return l->op->emitError("sparsec-permute-channels: could not permute rows");
          recordPermutation(l->op, "sparsec.row_perm", perm);
          permuteRows(*l->weight, l->rows, l->cols, perm);
          permuteRows(*l->saliency, l->rows, l->cols, perm);
          OpBuilder b(l->op->getContext());
          b.setInsertionPointAfter(l->op);
          Value out = l->op->getResult(0);
          int64_t axis = isa<LinearOp>(l->op)
                             ? cast<RankedTensorType>(out.getType()).getRank() - 1
                             : 1;
          auto restore = PermuteOp::create(b, l->op->getLoc(), out.getType(), out,
                                           b.getI64IntegerAttr(axis),
                                           b.getDenseI64ArrayAttr(inverse(perm)));
          restore->setAttr("sparsec.reason", reason);
          out.replaceAllUsesExcept(restore.getResult(), restore);
        }
      } else {
        // Siblings may read different tensors of the class (e.g. both
        // LayerNorm outputs of a residual stream): one permute per tensor.
        llvm::DenseMap<Value, Value> permutedInputs;
        for (PermutableLayer *l : task->layers) {
          Value input = l->op->getOperand(0);
          Value &permuted = permutedInputs[input];
          if (!permuted) {
            OpBuilder b(ctx);
            if (Operation *def = input.getDefiningOp())
              b.setInsertionPointAfter(def);
            else
              b.setInsertionPointToStart(cast<BlockArgument>(input).getOwner());
            int64_t axis =
                isa<LinearOp>(l->op)
                    ? cast<RankedTensorType>(input.getType()).getRank() - 1
                    : 1;
            auto op = PermuteOp::create(b, input.getLoc(), input.getType(),
                                        input, b.getI64IntegerAttr(axis),
                                        b.getDenseI64ArrayAttr(perm));
            op->setAttr("sparsec.reason", reason);
            permuted = op.getResult();
          }
          l->op->setOperand(0, permuted);
          // The weight's input channels follow the permuted input; pruning
          // rebuilds the stored weight from this view.
          permuteInputs(*l->weight, l->rows, l->cols, inputChannels(l->op),
                        l->chw, perm);
          permuteInputs(*l->saliency, l->rows, l->cols, inputChannels(l->op),
                        l->chw, perm);
          recordPermutation(l->op, "sparsec.col_perm", perm);
        }
      }
    }
  }
  return success();
}

} // namespace sparsec

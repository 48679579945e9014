//===- ScheduleKernelLoops.cpp - the kernels' OpenMP schedule -------------===//
//
// A static schedule gives each thread an equal, fixed share of a kernel's
// tiles; on a machine where a thread can be slowed (a shared host, another
// process on its core) the others wait at the loop's barrier for it. The
// kernels' tiles are large (microseconds each), so handing them out on
// demand costs one atomic per tile and keeps every thread busy.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Target/Host/Passes.h"

#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUSCHEDULEKERNELLOOPS
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// Whether `loc` is (or fuses) a location named by the kernel-loop tag.
bool isKernelLoopLoc(Location loc) {
  bool found = false;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner))
      if (named.getName() == sparsec::kernel::kKernelLoopTag)
        found = true;
    return found ? WalkResult::interrupt() : WalkResult::advance();
  });
  return found;
}

struct SparsecCpuScheduleKernelLoopsPass
    : sparsec::impl::SparsecCpuScheduleKernelLoopsBase<
          SparsecCpuScheduleKernelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<omp::ClauseScheduleKind> kind =
        llvm::StringSwitch<std::optional<omp::ClauseScheduleKind>>(schedule)
            .Case("static", omp::ClauseScheduleKind::Static)
            .Case("dynamic", omp::ClauseScheduleKind::Dynamic)
            .Case("guided", omp::ClauseScheduleKind::Guided)
            .Case("runtime", omp::ClauseScheduleKind::Runtime)
            .Default(std::nullopt);
    if (!kind) {
      getOperation().emitError()
          << "sparsec-cpu-schedule-kernel-loops: schedule must be static, "
             "dynamic, guided or runtime, not '"
          << schedule << "'";
      return signalPassFailure();
    }
    if (chunk < 1 || chunk > (int64_t(1) << 30)) {
      getOperation().emitError()
          << "sparsec-cpu-schedule-kernel-loops: chunk must be in [1, 2^30], "
             "not "
          << int64_t(chunk);
      return signalPassFailure();
    }
    bool chunked = *kind == omp::ClauseScheduleKind::Dynamic ||
                   *kind == omp::ClauseScheduleKind::Guided;
    getOperation().walk([&](omp::WsloopOp loop) {
      if (!isKernelLoopLoc(loop.getLoc()) || loop.getScheduleKind())
        return;
      loop.setScheduleKind(*kind);
      if (!chunked)
        return;
      // The chunk is an operand: a constant in front of the enclosing
      // omp.parallel, which captures it.
      Operation *anchor = loop->getParentOfType<omp::ParallelOp>();
      OpBuilder b(anchor ? anchor : loop.getOperation());
      Value size = arith::ConstantIntOp::create(b, loop.getLoc(), chunk, 32);
      loop.getScheduleChunkMutable().assign(size);
    });
  }
};

} // namespace

//===- PlanMemory.cpp - a function's buffers as views of one arena --------===//
//
// After bufferization every intermediate tensor is a memref.alloc whose
// dealloc the deallocation pipeline puts at the end of the block, so all of
// a model's intermediates are live at once (a malloc each per call, and the
// sum of their sizes as the peak). The buffers whose whole life is in the
// function's entry block become views of one arena at offsets chosen from
// their lifetimes: buffers that are never live at the same top-level op
// share memory.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUPLANMEMORY
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

constexpr int64_t kArenaAlignment = sparsec::kCpuArenaAlignment;

/// One buffer of the plan: its alloc, its dealloc, its size in bytes, the
/// first and last top-level ops (indices in the entry block) that touch it
/// or a view of it, and its offset in the arena once placed.
struct PlannedBuffer {
  memref::AllocOp alloc;
  memref::DeallocOp dealloc;
  int64_t bytes = 0;
  int64_t firstUse = 0;
  int64_t lastUse = 0;
  int64_t offset = 0;
  bool livesWith(const PlannedBuffer &other) const {
    return firstUse <= other.lastUse && other.firstUse <= lastUse;
  }
};

/// The index in `block` of the op holding `op` (itself or an ancestor).
int64_t topLevelIndex(Operation *op, Block &block,
                      const DenseMap<Operation *, int64_t> &index) {
  Operation *top = block.findAncestorOpInBlock(*op);
  return index.lookup(top);
}

/// Fills `buffer`'s dealloc and lifetime from the users of its alloc and of
/// the views of it; false when a user can let the buffer escape (a call,
/// a terminator, an op returning a memref that is not a view, a pointer
/// taken out of it) or it is freed other than by one memref.dealloc in the
/// entry block.
bool traceLifetime(PlannedBuffer &buffer, Block &block,
                   const DenseMap<Operation *, int64_t> &index) {
  SmallVector<Value> aliases{buffer.alloc.getResult()};
  buffer.firstUse = std::numeric_limits<int64_t>::max();
  buffer.lastUse = -1;
  while (!aliases.empty()) {
    Value alias = aliases.pop_back_val();
    for (Operation *user : alias.getUsers()) {
      if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
        if (alias != buffer.alloc.getResult() || buffer.dealloc ||
            dealloc->getBlock() != &block)
          return false;
        buffer.dealloc = dealloc;
        continue;
      }
      if (!block.findAncestorOpInBlock(*user))
        return false;
      int64_t at = topLevelIndex(user, block, index);
      buffer.firstUse = std::min(buffer.firstUse, at);
      buffer.lastUse = std::max(buffer.lastUse, at);
      if (isa<ViewLikeOpInterface>(user)) {
        for (Value result : user->getResults())
          if (isa<BaseMemRefType>(result.getType()))
            aliases.push_back(result);
        continue;
      }
      // A pointer taken out of the buffer could be used after its last
      // use here.
      if (user->hasTrait<OpTrait::IsTerminator>() ||
          isa<CallOpInterface, memref::ExtractAlignedPointerAsIndexOp>(user))
        return false;
      if (llvm::any_of(user->getResultTypes(), llvm::IsaPred<BaseMemRefType>))
        return false;
    }
  }
  return buffer.dealloc && buffer.lastUse >= 0;
}

/// Places the buffers, largest first (ties in program order), each at the
/// lowest aligned offset that no buffer live at the same time covers.
/// Returns the arena's size.
int64_t placeBuffers(MutableArrayRef<PlannedBuffer> buffers) {
  SmallVector<PlannedBuffer *> order;
  for (PlannedBuffer &buffer : buffers)
    order.push_back(&buffer);
  llvm::stable_sort(order, [](PlannedBuffer *a, PlannedBuffer *b) {
    return a->bytes > b->bytes;
  });
  int64_t arenaBytes = 0;
  SmallVector<PlannedBuffer *> placed;
  for (PlannedBuffer *buffer : order) {
    SmallVector<std::pair<int64_t, int64_t>> taken;
    for (PlannedBuffer *other : placed)
      if (buffer->livesWith(*other))
        taken.push_back({other->offset, other->offset + other->bytes});
    llvm::sort(taken);
    int64_t offset = 0;
    for (auto [begin, end] : taken) {
      if (offset + buffer->bytes <= begin)
        break;
      offset = std::max<int64_t>(offset, llvm::alignTo(end, kArenaAlignment));
    }
    buffer->offset = offset;
    arenaBytes = std::max(arenaBytes, offset + buffer->bytes);
    placed.push_back(buffer);
  }
  return int64_t(llvm::alignTo(arenaBytes, kArenaAlignment));
}

/// The buffers of `func`'s entry block that can share an arena (their
/// offsets placed), and their arena's size; none when fewer than two.
SmallVector<PlannedBuffer> planBuffers(func::FuncOp func, int64_t &arenaBytes,
                                       int64_t &separateBytes) {
  Block &block = func.getBody().front();
  DenseMap<Operation *, int64_t> index;
  for (auto [i, op] : llvm::enumerate(block))
    index[&op] = int64_t(i);
  SmallVector<PlannedBuffer> buffers;
  separateBytes = 0;
  for (auto alloc : block.getOps<memref::AllocOp>()) {
    MemRefType type = alloc.getType();
    if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
        type.getMemorySpace() || !type.getElementType().isIntOrFloat() ||
        type.getElementTypeBitWidth() % 8 != 0 ||
        alloc.getAlignment().value_or(0) > kArenaAlignment)
      continue;
    PlannedBuffer buffer;
    buffer.alloc = alloc;
    buffer.bytes = std::max<int64_t>(
        type.getNumElements() * (type.getElementTypeBitWidth() / 8), 1);
    if (!traceLifetime(buffer, block, index))
      continue;
    separateBytes += llvm::alignTo(buffer.bytes, kArenaAlignment);
    buffers.push_back(buffer);
  }
  if (buffers.size() < 2)
    return {};
  arenaBytes = placeBuffers(buffers);
  return buffers;
}

/// Makes public `func` take its arena as a last argument under the name
/// `<name>_workspace`, and adds a function with the old name and type that
/// allocates the arena and calls it, and a public constant
/// `<name>_workspace_bytes` (i64) with the arena's size: a caller that keeps
/// the arena between calls allocates nothing per call. Returns the arena,
/// or null if `<name>_workspace` or `<name>_workspace_bytes` is taken.
Value addWorkspaceArgument(func::FuncOp func, MemRefType arenaType,
                           SymbolTable &symbols) {
  OpBuilder b(func);
  Location loc = func.getLoc();
  std::string name = func.getSymName().str();
  if (symbols.lookup(name + "_workspace") ||
      symbols.lookup(name + "_workspace_bytes") ||
      failed(symbols.rename(func, name + "_workspace")))
    return nullptr;
  auto wrapper = func::FuncOp::create(b, loc, name, func.getFunctionType());
  wrapper->setAttrs(func->getAttrs());
  wrapper.setSymName(name);
  symbols.insert(wrapper);
  (void)func.insertArgument(func.getNumArguments(), arenaType, {}, loc);

  Block *body = wrapper.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value arena = memref::AllocOp::create(b, loc, arenaType,
                                        b.getI64IntegerAttr(kArenaAlignment));
  SmallVector<Value> operands(body->getArguments());
  operands.push_back(arena);
  auto call = func::CallOp::create(b, loc, func, operands);
  memref::DeallocOp::create(b, loc, arena);
  func::ReturnOp::create(b, loc, call.getResults());

  b.setInsertionPoint(wrapper);
  auto i64 = b.getI64Type();
  auto size = memref::GlobalOp::create(
      b, loc, name + "_workspace_bytes", /*sym_visibility=*/nullptr,
      MemRefType::get({}, i64),
      DenseElementsAttr::get(RankedTensorType::get({}, i64),
                             b.getI64IntegerAttr(arenaType.getNumElements())),
      /*constant=*/true, /*alignment=*/nullptr);
  symbols.insert(size);
  return func.getArguments().back();
}

struct SparsecCpuPlanMemoryPass
    : sparsec::impl::SparsecCpuPlanMemoryBase<SparsecCpuPlanMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs)
      if (!func.isExternal())
        plan(func, symbols);
  }

  void plan(func::FuncOp func, SymbolTable &symbols) {
    int64_t arenaBytes = 0, separateBytes = 0;
    SmallVector<PlannedBuffer> buffers =
        planBuffers(func, arenaBytes, separateBytes);
    if (buffers.empty())
      return;
    OpBuilder b(func);
    func->setAttr("sparsec.cpu.arena_bytes", b.getI64IntegerAttr(arenaBytes));
    func->setAttr("sparsec.cpu.unplanned_bytes",
                  b.getI64IntegerAttr(separateBytes));
    Block &block = func.getBody().front();
    auto arenaType =
        MemRefType::get({arenaBytes}, IntegerType::get(&getContext(), 8));
    Value arena;
    if (workspace && func.isPublic()) {
      arena = addWorkspaceArgument(func, arenaType, symbols);
      if (!arena) {
        func.emitError("sparsec-cpu-plan-memory: cannot name the workspace "
                       "entry of '")
            << func.getSymName() << "': '" << func.getSymName()
            << "_workspace' or '" << func.getSymName()
            << "_workspace_bytes' exists";
        return signalPassFailure();
      }
    } else {
      // The arena is allocated where the function starts and freed before
      // its return.
      b.setInsertionPointToStart(&block);
      arena = memref::AllocOp::create(b, func.getLoc(), arenaType,
                                      b.getI64IntegerAttr(kArenaAlignment));
      b.setInsertionPoint(block.getTerminator());
      memref::DeallocOp::create(b, func.getLoc(), arena);
    }
    for (PlannedBuffer &buffer : buffers) {
      b.setInsertionPoint(buffer.alloc);
      Value offset = arith::ConstantIndexOp::create(b, buffer.alloc.getLoc(),
                                                    buffer.offset);
      Value view = memref::ViewOp::create(b, buffer.alloc.getLoc(),
                                          buffer.alloc.getType(), arena, offset,
                                          ValueRange{});
      // Keeps what the kernels recorded on the buffer (their decision).
      view.getDefiningOp()->setDiscardableAttrs(
          buffer.alloc->getDiscardableAttrDictionary());
      buffer.alloc.replaceAllUsesWith(view);
      buffer.dealloc.erase();
      buffer.alloc.erase();
    }
  }
};

} // namespace

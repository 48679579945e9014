//===- Calibration.cpp - run the model, collect statistics, prune ---------===//
//
// Sequential order (the default, docs/Calibration.md): a layer's calibration
// step is the number of selected layers on the longest path from the model
// inputs to it, so the layers of one step (q, k and v; gate and up) share
// one forward pass, and every earlier step is already pruned in the model
// that pass runs. That is the reference code's "true sequential" grouping.
// Each step runs a probe: a copy of the working model whose `main` returns
// just the inputs of the step's layers, compiled once for the host and run
// on every sample; statistics stream, activations are dropped per sample.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Compiler/Calibration.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "sparsec/Sparsity/Calibration.h"
#include "sparsec/Sparsity/Selection.h"
#include "sparsec/Target/Target.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <map>

using namespace mlir;

namespace sparsec {

namespace {

/// Constants of at least this many bytes (the weights) reach a probe as
/// arguments.
constexpr int64_t kHoistedConstantBytes = 64 << 10;

/// The bytes of a constant tensor that live as long as the context (a blob
/// or dense storage), or an empty view.
ArrayRef<char> constantBytes(Attribute value, RankedTensorType type) {
  int64_t bytes =
      type.getNumElements() * int64_t(type.getElementTypeBitWidth() / 8);
  ArrayRef<char> data;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    if (AsmResourceBlob *blob = resource.getRawHandle().getBlob())
      data = blob->getData();
  } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (!dense.isSplat())
      data = dense.getRawData();
  }
  return int64_t(data.size()) == bytes ? data : ArrayRef<char>();
}

/// Makes `main`'s large constants trailing arguments and returns views of
/// their bytes, in argument order: a probe compiles without embedding the
/// model's weights (LLVM would copy them twice) and runs on the module's
/// own buffers. Every argument is marked read-only, so that bufferization
/// never writes to the caller's buffers.
std::vector<InputView> hoistLargeConstants(func::FuncOp main) {
  std::vector<InputView> views;
  SmallVector<arith::ConstantOp> constants;
  main.walk([&](arith::ConstantOp c) { constants.push_back(c); });
  Block &body = main.getBody().front();
  for (arith::ConstantOp c : constants) {
    auto type = dyn_cast<RankedTensorType>(c.getType());
    if (!type || !type.hasStaticShape() ||
        type.getElementTypeBitWidth() % 8 != 0)
      continue;
    std::string dtype = getNpyDescr(type.getElementType());
    ArrayRef<char> bytes = constantBytes(c.getValue(), type);
    if (dtype.empty() || int64_t(bytes.size()) < kHoistedConstantBytes)
      continue;
    BlockArgument arg = body.addArgument(type, c.getLoc());
    c.getResult().replaceAllUsesWith(arg);
    c->erase();
    views.push_back(
        {dtype,
         std::vector<int64_t>(type.getShape().begin(), type.getShape().end()),
         bytes.data()});
  }
  SmallVector<Type> results(main.getResultTypes());
  main.setFunctionType(
      FunctionType::get(main.getContext(), body.getArgumentTypes(), results));
  for (unsigned i = 0; i < main.getNumArguments(); ++i)
    main.setArgAttr(i, "bufferization.writable",
                    BoolAttr::get(main.getContext(), false));
  return views;
}

struct CalibratedLayer {
  size_t index = 0; // among the module's layers, in walk order
  SelectedLayer layer;
  int64_t step = 0;
  int64_t convGroups = 1, features = 0; // statistics per conv group
  std::vector<InputStatistics> stats;
  /// A linear layer of the same step that reads the same value (q, k and v;
  /// gate and up): its statistics are this layer's too (one Gram matrix).
  CalibratedLayer *sharesStatsOf = nullptr;
  const std::vector<InputStatistics> &statistics() const {
    return sharesStatsOf ? sharesStatsOf->stats : stats;
  }
  double error = 0, relativeError = 0;
  int64_t deadInputs = 0;
};

SmallVector<Operation *> layerOps(ModuleOp module) {
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<LinearOp, Conv2DOp>(op))
      ops.push_back(op);
  });
  return ops;
}

/// Adds the im2col rows of one convolution input (N x C x H x W) to the
/// statistics of each convolution group, a chunk of rows at a time.
void addConvolutionRows(Conv2DOp conv, const float *x,
                        ArrayRef<int64_t> inShape,
                        std::vector<InputStatistics> &stats) {
  ArrayRef<int64_t> wShape = conv.getWeight().getType().getShape();
  int64_t groups = conv.getGroups(), cg = wShape[1], kh = wShape[2],
          kw = wShape[3];
  ArrayRef<int64_t> strides = conv.getStrides(), pads = conv.getPads(),
                    dil = conv.getDilations();
  int64_t n = inShape[0], c = inShape[1], h = inShape[2], w = inShape[3];
  int64_t oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / strides[0] + 1;
  int64_t ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / strides[1] + 1;
  int64_t features = cg * kh * kw;
  const int64_t chunk = 256;
  std::vector<float> rows(chunk * features);
  for (int64_t g = 0; g < groups; ++g) {
    int64_t filled = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          float *row = &rows[filled * features];
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = y * strides[0] - pads[0] + i * dil[0];
                int64_t ix = xo * strides[1] - pads[1] + j * dil[1];
                bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                row[(ci * kh + i) * kw + j] =
                    inside ? x[((b * c + g * cg + ci) * h + iy) * w + ix]
                           : 0.0f;
              }
          if (++filled == chunk) {
            stats[g].add(rows.data(), filled);
            filled = 0;
          }
        }
    stats[g].add(rows.data(), filled);
  }
}

std::string fileNameFor(StringRef name) {
  std::string out;
  for (char ch : name)
    out += (isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' ||
            ch == '.')
               ? ch
               : '_';
  return out;
}

class Calibrator {
public:
  Calibrator(ModuleOp module, const SparsecCompileOptions &options)
      : module(module), options(options), ctx(module.getContext()) {}

  LogicalResult run();

private:
  LogicalResult fail(const Twine &message) {
    return emitError(module.getLoc()) << message;
  }
  LogicalResult selectAndOrder();
  LogicalResult runStep(int64_t step);
  LogicalResult finishLayer(CalibratedLayer &layer, Operation *inWorking);
  LogicalResult writeStatistics();

  ModuleOp module;
  const SparsecCompileOptions &options;
  MLIRContext *ctx;
  const Target *host = nullptr;
  std::unique_ptr<TargetOptions> hostOptions;
  OwningOpRef<ModuleOp> working; // the model as pruned so far
  LayerSelectionOptions selectionOptions;
  std::vector<CalibratedLayer> layers;
  int64_t steps = 0;
  CalibrationSet samples;
  bool sparseGPTMode = false;
};

LogicalResult Calibrator::selectAndOrder() {
  PruneSettings spec;
  if (std::string error = parseSparsitySpec(options.sparsity, spec);
      !error.empty())
    return fail(error);
  LayerSelectionOptions &selection = selectionOptions;
  selection.defaults = spec;
  selection.include = options.pruneInclude;
  selection.exclude = options.pruneExclude;
  selection.config = options.pruneConfig;
  selection.korder = options.pruneKOrder;
  selection.skipFirst = options.pruneSkipFirst;
  selection.skipLast = options.pruneSkipLast;
  selection.pad = options.prunePad;
  selection.minParams = options.pruneMinParams;
  selection.saliency = "magnitude";
  std::vector<SelectedLayer> selected;
  uint64_t skipped = 0;
  if (failed(selectLayers(
          module, selection, "calibration", [](StringRef) { return true; },
          selected, skipped, /*loadData=*/false)))
    return failure();
  if (selected.empty())
    return fail("--calibration: no layer is selected for pruning");

  SmallVector<Operation *> ops = layerOps(module);
  llvm::DenseMap<Operation *, size_t> indexOf;
  for (auto [i, op] : llvm::enumerate(ops))
    indexOf[op] = i;
  // The step of each layer: selected layers on the longest path before it.
  auto main = module.lookupSymbol<func::FuncOp>("main");
  llvm::DenseMap<Value, int64_t> depth;
  llvm::DenseMap<Operation *, int64_t> stepOf;
  llvm::DenseSet<Operation *> chosen;
  for (SelectedLayer &l : selected)
    chosen.insert(l.op);
  bool sequential = options.calibrationOrder == "sequential";
  main.walk([&](Operation *op) {
    int64_t d = 0;
    for (Value operand : op->getOperands())
      d = std::max(d, depth.lookup(operand));
    if (chosen.contains(op)) {
      stepOf[op] = sequential ? d : 0;
      ++d;
    }
    for (Value result : op->getResults())
      depth[result] = d;
  });
  for (SelectedLayer &l : selected) {
    CalibratedLayer c;
    c.index = indexOf[l.op];
    c.step = stepOf[l.op];
    steps = std::max(steps, c.step + 1);
    ArrayRef<int64_t> wShape =
        cast<RankedTensorType>(l.op->getOperand(1).getType()).getShape();
    if (auto conv = dyn_cast<Conv2DOp>(l.op)) {
      c.convGroups = conv.getGroups();
      c.features = wShape[1] * wShape[2] * wShape[3];
      if (sparseGPTMode && c.convGroups != 1)
        return l.op->emitError()
               << "--saliency=sparsegpt: grouped convolution '" << l.name
               << "' is not supported; leave it out with --prune-exclude or "
                  "use --saliency=wanda";
    } else {
      c.features = wShape[1];
    }
    c.layer = std::move(l);
    layers.push_back(std::move(c));
  }
  return success();
}

LogicalResult Calibrator::run() {
  sparseGPTMode = options.saliency == "sparsegpt";
  host = TargetRegistry::get().lookup("host");
  if (!host)
    return fail("--calibration runs the model on the host, and this sparsec "
                "was built without the host target");
  hostOptions = host->createOptions();
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return fail("--calibration: the module has no func.func @main");
  std::vector<ModelInput> inputs;
  auto names = main->getAttrOfType<ArrayAttr>("sparsec.input_names");
  for (auto [i, type] : llvm::enumerate(main.getArgumentTypes())) {
    ModelInput input;
    input.name = names && i < names.size() ? cast<StringAttr>(names[i]).str()
                                           : "input_" + std::to_string(i);
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.hasStaticShape())
      return fail("--calibration: input '" + input.name +
                  "' has dynamic dimensions; calibration takes static "
                  "shapes for now: give its sizes with --input-shape (the "
                  "export keeps the model's symbolic dims)");
    input.dtype = getNpyDescr(tensor.getElementType());
    input.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
    inputs.push_back(std::move(input));
  }
  if (std::string error = samples.open(options.calibration, std::move(inputs),
                                       options.calibrationSamples);
      !error.empty())
    return fail(error);
  if (failed(selectAndOrder()))
    return failure();
  working = OwningOpRef<ModuleOp>(module.clone());
  for (int64_t step = 0; step < steps; ++step)
    if (failed(runStep(step)))
      return failure();
  return writeStatistics();
}

LogicalResult Calibrator::runStep(int64_t step) {
  auto start = std::chrono::steady_clock::now();
  std::vector<CalibratedLayer *> members;
  for (CalibratedLayer &l : layers)
    if (l.step == step)
      members.push_back(&l);
  if (members.empty())
    return success();

  // The probe returns the inputs of this step's layers and nothing else.
  OwningOpRef<ModuleOp> probe(working->clone());
  SmallVector<Operation *> probeOps = layerOps(*probe);
  auto main = probe->lookupSymbol<func::FuncOp>("main");
  SmallVector<Value> returned;
  std::vector<size_t> outputOf;
  for (CalibratedLayer *l : members) {
    Value input = probeOps[l->index]->getOperand(0);
    auto at = llvm::find(returned, input);
    outputOf.push_back(at - returned.begin());
    if (at == returned.end())
      returned.push_back(input);
  }
  Operation *terminator = main.getBody().front().getTerminator();
  terminator->setOperands(returned);
  main.setFunctionType(FunctionType::get(ctx, main.getArgumentTypes(),
                                         ValueRange(returned).getTypes()));
  main.removeResAttrsAttr();
  main->removeAttr("sparsec.output_names");
  IRRewriter rewriter(ctx);
  (void)runRegionDCE(rewriter, main->getRegions());
  std::vector<InputView> weights = hoistLargeConstants(main);
  FunctionType signature = main.getFunctionType();
  PassManager pm(ctx);
  host->buildPipeline(pm, *hostOptions);
  if (failed(pm.run(*probe)))
    return fail("--calibration: compiling calibration step " + Twine(step + 1) +
                " for the host failed");
  std::unique_ptr<PreparedModel> prepared =
      host->prepare(*probe, signature, *hostOptions);
  if (!prepared)
    return failure();

  // Linear layers that read the same value share one set of statistics.
  std::map<size_t, CalibratedLayer *> firstReader;
  for (auto [i, l] : llvm::enumerate(members)) {
    l->sharesStatsOf = nullptr;
    if (isa<LinearOp>(l->layer.op)) {
      auto [it, first] = firstReader.try_emplace(outputOf[i], l);
      if (!first && it->second->features == l->features) {
        l->sharesStatsOf = it->second;
        l->stats.clear();
        continue;
      }
    }
    l->stats.assign(l->convGroups, InputStatistics(l->features, sparseGPTMode));
  }
  std::vector<NpyArray> sampleInputs, outputs;
  std::vector<InputView> inputs;
  for (int64_t s = 0; s < samples.size(); ++s) {
    if (std::string error = samples.read(s, sampleInputs); !error.empty())
      return fail(error);
    inputs = InputView::of(sampleInputs);
    inputs.insert(inputs.end(), weights.begin(), weights.end());
    if (failed(prepared->run(inputs, outputs)))
      return failure();
    for (auto [i, l] : llvm::enumerate(members)) {
      if (l->sharesStatsOf)
        continue;
      const NpyArray &x = outputs[outputOf[i]];
      if (x.dtype != "<f4")
        return l->layer.op->emitError()
               << "--calibration: the input of layer '" << l->layer.name
               << "' is " << x.dtype << "; calibration needs float32";
      const float *data = reinterpret_cast<const float *>(x.data.data());
      if (auto conv = dyn_cast<Conv2DOp>(l->layer.op))
        addConvolutionRows(conv, data, x.shape, l->stats);
      else
        l->stats[0].add(data, x.numElements() / l->features);
    }
  }
  // The step's layers in the working model (walked once per step).
  SmallVector<Operation *> workingOps = layerOps(*working);
  for (CalibratedLayer *l : members)
    if (failed(finishLayer(*l, workingOps[l->index])))
      return failure();
  // Each layer keeps Σx² and its token count (--calibration-stats); the Gram
  // matrices go.
  std::vector<std::vector<InputStatistics>> kept;
  for (CalibratedLayer *l : members) {
    std::vector<InputStatistics> &k = kept.emplace_back();
    for (const InputStatistics &s : l->statistics()) {
      k.emplace_back();
      k.back().squares = s.squares;
      k.back().tokens = s.tokens;
    }
  }
  for (auto [l, k] : llvm::zip_equal(members, kept)) {
    l->stats = std::move(k);
    l->sharesStatsOf = nullptr;
  }
  if (options.progress) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    llvm::errs() << "calibration: step " << step + 1 << "/" << steps << ": "
                 << members.size() << " layer(s), " << samples.size()
                 << " sample(s), " << llvm::format("%.1f", seconds) << " s\n";
  }
  return success();
}

LogicalResult Calibrator::finishLayer(CalibratedLayer &c,
                                      Operation *workingOp) {
  SelectedLayer &layer = c.layer;
  Operation *op = layer.op;
  // Weights are read one layer at a time (a large model holds no second
  // copy of them), from the model, which calibration changes only here.
  LayerDataReader reader(selectionOptions);
  if (std::string error = reader.read(layer, /*withSaliency=*/false);
      !error.empty())
    return op->emitError() << "calibration: " << error;
  llvm::scope_exit release([&] { LayerDataReader::release(layer); });
  // No later probe reads the working model after the last step.
  bool lastStep = c.step + 1 == steps;
  // The same layer in the working model, whose weight takes the mask.
  SelectedLayer inWorking = layer;
  inWorking.op = workingOp;
  const std::vector<InputStatistics> &stats = c.statistics();
  std::vector<double> squares;
  for (const InputStatistics &s : stats)
    squares.insert(squares.end(), s.squares.begin(), s.squares.end());
  ArrayRef<int64_t> wShape =
      cast<RankedTensorType>(op->getOperand(1).getType()).getShape();
  SmallVector<int64_t> statShape;
  if (isa<Conv2DOp>(op))
    statShape = {c.convGroups, wShape[1], wShape[2], wShape[3]};
  else
    statShape = {c.features};
  auto norms = DenseElementsAttr::get(
      RankedTensorType::get(statShape, Float64Type::get(ctx)),
      ArrayRef<double>(squares));
  const PruneSettings &s = layer.settings;

  if (!sparseGPTMode) {
    op->setAttr(kInputSquareNormsAttr, norms);
    if (lastStep)
      return success();
    inWorking.op->setAttr(kInputSquareNormsAttr, norms);
    inWorking.saliency.resize(layer.weight.size());
    if (std::string error = computeWandaSaliency(inWorking); !error.empty())
      return op->emitError()
             << "calibration: layer '" << layer.name << "' " << error;
    Selection selection =
        s.pattern == "hinm"
            ? selectHiNM(inWorking.saliency.data(), layer.rows, layer.cols,
                         {s.v, layer.nnzVec, s.n, s.m})
            : selectNM(inWorking.saliency.data(), layer.rows, layer.cols,
                       {s.n, s.m});
    std::vector<float> masked(layer.weight.begin(), layer.weight.end());
    for (size_t i = 0; i < masked.size(); ++i)
      if (!selection.mask[i])
        masked[i] = 0.0f;
    replaceLayerWeight(inWorking, std::move(masked), ".calibrated",
                       /*freeOldBlob=*/false);
    return success();
  }

  // SparseGPT on the Gram matrix in the GEMM view's column order.
  const std::vector<double> &storageGram = stats[0].gram;
  int64_t cols = layer.cols;
  std::vector<int64_t> feature(cols);
  for (int64_t k = 0; k < cols; ++k)
    feature[k] = gemmToStorageIndex(wShape, layer.korder, 0, k) % c.features;
  std::vector<double> gram(cols * cols);
  for (int64_t a = 0; a < cols; ++a)
    for (int64_t b = 0; b < cols; ++b)
      gram[a * cols + b] = storageGram[feature[a] * c.features + feature[b]];
  SparseGPTConfig config;
  config.n = s.n;
  config.m = s.m;
  config.blockSize = options.sparsegptBlock;
  config.dampening = options.sparsegptDampening;
  if (s.pattern == "hinm") {
    config.tileRows = s.v;
    config.keptVectors = layer.nnzVec;
  }
  SparseGPTResult result;
  if (std::string error = sparseGPT(layer.weight.data(), layer.rows, cols, gram,
                                    config, result);
      !error.empty())
    return op->emitError() << "--saliency=sparsegpt: layer '" << layer.name
                           << "': " << error
                           << " (more or more varied calibration samples, or "
                              "a larger --sparsegpt-dampening)";
  c.error = reconstructionError(layer.weight.data(), result.weight.data(),
                                layer.rows, cols, gram);
  std::vector<float> zero(layer.weight.size(), 0.0f);
  double total = reconstructionError(layer.weight.data(), zero.data(),
                                     layer.rows, cols, gram);
  c.relativeError = total > 0 ? c.error / total : 0.0;
  c.deadInputs = result.deadInputs;
  Builder b(ctx);
  SmallVector<NamedAttribute> info = {
      b.getNamedAttr("error", b.getF64FloatAttr(c.error)),
      b.getNamedAttr("relative_error", b.getF64FloatAttr(c.relativeError)),
      b.getNamedAttr("dead_inputs", b.getI64IntegerAttr(c.deadInputs))};
  if (!result.tileColumns.empty()) {
    SmallVector<int64_t> flat;
    for (const std::vector<int64_t> &tile : result.tileColumns)
      flat.append(tile.begin(), tile.end());
    info.push_back(b.getNamedAttr("columns", b.getDenseI64ArrayAttr(flat)));
  }
  op->setAttr(kSparseGPTAttr, b.getDictionaryAttr(info));
  op->setAttr(kInputSquareNormsAttr, norms);
  if (!lastStep)
    replaceLayerWeight(inWorking, result.weight, ".calibrated",
                       /*freeOldBlob=*/false);
  replaceLayerWeight(layer, std::move(result.weight), ".sparsegpt");
  return success();
}

LogicalResult Calibrator::writeStatistics() {
  if (options.calibrationStats.empty())
    return success();
  const std::string &dir = options.calibrationStats;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return fail("--calibration-stats: cannot create '" + dir +
                "': " + ec.message());
  llvm::json::Array entries;
  llvm::StringSet<> used;
  for (CalibratedLayer &c : layers) {
    std::string base = fileNameFor(c.layer.baseName());
    if (!used.insert(base).second)
      base += "." + std::to_string(c.index);
    std::string file = base + ".sq_norms.npy";
    NpyArray array;
    array.dtype = "<f8";
    for (const InputStatistics &s : c.stats)
      for (double v : s.squares)
        array.data.insert(array.data.end(), reinterpret_cast<char *>(&v),
                          reinterpret_cast<char *>(&v) + sizeof(double));
    array.shape = {int64_t(array.data.size() / sizeof(double))};
    if (std::string error = writeNpy(dir + "/" + file, array); !error.empty())
      return fail("--calibration-stats: " + error);
    llvm::json::Object entry{
        {"layer", c.layer.name},
        {"weight", c.layer.weightName},
        {"step", c.step},
        {"tokens", c.stats.empty() ? 0 : c.stats[0].tokens},
        {"sq_norms", file}};
    if (sparseGPTMode) {
      entry["error"] = c.error;
      entry["relative_error"] = c.relativeError;
      entry["dead_inputs"] = c.deadInputs;
    }
    entries.push_back(std::move(entry));
  }
  std::error_code ec;
  llvm::raw_fd_ostream os(dir + "/calibration.json", ec);
  if (ec)
    return fail("--calibration-stats: cannot write '" + dir +
                "/calibration.json': " + ec.message());
  llvm::json::Object root{{"saliency", options.saliency.getValue()},
                          {"order", options.calibrationOrder.getValue()},
                          {"samples", samples.size()},
                          {"steps", steps},
                          {"layers", std::move(entries)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return success();
}

} // namespace

LogicalResult calibrateModule(ModuleOp module,
                              const SparsecCompileOptions &options) {
  if (options.calibration.empty())
    return success();
  return Calibrator(module, options).run();
}

} // namespace sparsec

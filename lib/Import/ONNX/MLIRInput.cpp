//===- MLIRInput.cpp - load .mlir / .mlirbc input safely ------------------===//
//
// The other front end: MLIR input parsed by MLIR's own parser. It lives in
// the importer library because every consumer of ONNX input also takes MLIR.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Import/MLIRInput.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/SourceMgr.h"

#include <cerrno>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace mlir;

namespace sparsec {
namespace {

/// Bytes per element of a dense_resource of element type `elt`, or 0 if
/// sparsec does not know (then the blob is not checked).
uint64_t resourceElementBytes(Type elt) {
  if (elt.isIndex())
    return 8;
  if (elt.isIntOrFloat())
    return (elt.getIntOrFloatBitWidth() + 7) / 8;
  return 0;
}

/// Every dense_resource must have a blob of exactly the size its type says:
/// passes and targets read numElements() elements from it.
LogicalResult checkResourceBlobs(ModuleOp module) {
  WalkResult result = module->walk([&](Operation *op) {
    WalkResult inner = op->getAttrDictionary().walk(
        [&](DenseResourceElementsAttr attr) -> WalkResult {
          ShapedType type = attr.getType();
          DenseResourceElementsHandle handle = attr.getRawHandle();
          AsmResourceBlob *blob = handle.getBlob();
          std::string name = handle.getKey().str();
          if (!blob) {
            emitError(op->getLoc())
                << "dense_resource '" << name
                << "' has no data (it is missing from the file's "
                   "dialect_resources)";
            return WalkResult::interrupt();
          }
          uint64_t eltBytes = resourceElementBytes(type.getElementType());
          if (eltBytes == 0 || !type.hasStaticShape())
            return WalkResult::advance();
          // Overflow-safe: the element count times its size, or "too big".
          uint64_t needed = eltBytes;
          bool tooBig = false;
          for (int64_t d : type.getShape())
            tooBig |= __builtin_mul_overflow(needed, uint64_t(d), &needed);
          uint64_t size = blob->getData().size();
          if (tooBig || size != needed) {
            InFlightDiagnostic diag = emitError(op->getLoc());
            diag << "dense_resource '" << name << "' holds " << size
                 << " bytes, but its type " << type << " needs ";
            if (tooBig)
              diag << "more than 2^64";
            else
              diag << needed;
            return WalkResult::interrupt();
          }
          return WalkResult::advance();
        });
    return inner.wasInterrupted() ? WalkResult::interrupt()
                                  : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

[[noreturn]] void exitOnSignal(int signal) { _exit(128 + signal); }

/// Upstream defect (MLIR 22, found by fuzz/MLIRFuzzer.cpp): the bytecode
/// reader trusts offsets and indices in its input, and malformed bytecode
/// can crash it. So bytecode is first read in a forked child, with a context
/// of its own and its diagnostics dropped; the caller reads it only if the
/// child finished. Returns the signal that ended the child, or 0.
int bytecodeCrashesReader(MLIRContext &context, llvm::MemoryBufferRef buffer) {
  pid_t child = fork();
  if (child < 0)
    return 0; // cannot probe: read it directly
  if (child == 0) {
    // A crash ends the child with 128 + signal, before any sanitizer
    // handler reports it as a bug of this process.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
      std::signal(sig, exitOnSignal);
    MLIRContext probe(context.getDialectRegistry(),
                      MLIRContext::Threading::DISABLED);
    probe.allowUnregisteredDialects(context.allowsUnregisteredDialects());
    ScopedDiagnosticHandler silence(&probe,
                                    [](Diagnostic &) { return success(); });
    Block block;
    (void)readBytecodeFile(buffer, &block, ParserConfig(&probe));
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      return 0;
  if (WIFSIGNALED(status))
    return WTERMSIG(status);
  if (WIFEXITED(status) && WEXITSTATUS(status) > 128)
    return WEXITSTATUS(status) - 128;
  return 0;
}

} // namespace

OwningOpRef<ModuleOp>
parseMLIRBuffer(MLIRContext &context,
                std::unique_ptr<llvm::MemoryBuffer> buffer) {
  StringRef text = buffer->getBuffer();
  if (isBytecode(*buffer)) {
    if (int signal = bytecodeCrashesReader(context, *buffer)) {
      emitError(
          FileLineColLoc::get(&context, buffer->getBufferIdentifier(), 0, 0))
          << "malformed MLIR bytecode: MLIR's bytecode reader crashed on it "
             "(signal "
          << signal
          << ", in a child process; an upstream defect, see "
             "docs/Hardening.md)";
      return nullptr;
    }
  } else if (!text.ends_with("\n")) {
    // Upstream defect (MLIR 22): a string literal still open at the end of
    // the buffer leaves the lexer one past the terminating NUL, and the
    // parser's error recovery lexes on from there. A final newline ends the
    // literal inside the buffer instead. Line and column numbers are kept.
    std::string copy = text.str() + "\n";
    buffer = llvm::MemoryBuffer::getMemBufferCopy(
        copy, buffer->getBufferIdentifier());
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  if (module && failed(checkResourceBlobs(*module)))
    return nullptr;
  return module;
}

OwningOpRef<ModuleOp> parseMLIRFile(MLIRContext &context, StringRef path) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = openInputFile(path, &error);
  if (!file) {
    emitError(FileLineColLoc::get(&context, path, 0, 0)) << error;
    return nullptr;
  }
  return parseMLIRBuffer(context, std::move(file));
}

} // namespace sparsec

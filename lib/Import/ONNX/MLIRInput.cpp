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
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mlir;

// Set in sanitizer builds (and under libFuzzer, which installs its own): the
// probe child replaces it so that a report there ends only the child.
extern "C" void __sanitizer_set_death_callback(void (*)(void))
    __attribute__((weak));
// Likewise: the child's reports go to /dev/null, not to the log files the
// sanitizer job checks (scripts/sanitize.sh).
extern "C" void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

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
void exitAfterSanitizerReport() { _exit(128 + SIGABRT); }

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARSEC_ASAN 1
#endif
#endif

/// The reader allocates sizes it reads from the file: a 4 KB file asked for
/// 5 GB and zero-filled it. The probe child may grow its address space by
/// 2 GiB plus 64 times the file's size; beyond that an allocation fails and
/// the child aborts, so the caller never tries. (Not under AddressSanitizer,
/// whose shadow memory needs terabytes of address space.)
void limitAddressSpace(size_t fileBytes) {
#ifndef SPARSEC_ASAN
  unsigned long pages = 0;
  if (FILE *statm = fopen("/proc/self/statm", "r")) {
    if (fscanf(statm, "%lu", &pages) != 1)
      pages = 0;
    fclose(statm);
  }
  if (pages == 0)
    return;
  uint64_t current = uint64_t(pages) * uint64_t(sysconf(_SC_PAGESIZE));
  uint64_t extra = (uint64_t(2) << 30) + 64 * uint64_t(fileBytes);
  struct rlimit limit;
  limit.rlim_cur = limit.rlim_max = current + extra;
  setrlimit(RLIMIT_AS, &limit);
#else
  (void)fileBytes;
#endif
}

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
    // handler reports it as a bug of this process; what the reader or a
    // sanitizer prints is dropped (the caller reports the error).
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
      std::signal(sig, exitOnSignal);
    if (__sanitizer_set_death_callback)
      __sanitizer_set_death_callback(exitAfterSanitizerReport);
    int devNull = open("/dev/null", O_WRONLY);
    if (devNull >= 0) {
      dup2(devNull, STDOUT_FILENO);
      dup2(devNull, STDERR_FILENO);
      if (__sanitizer_set_report_fd)
        __sanitizer_set_report_fd(
            reinterpret_cast<void *>(static_cast<intptr_t>(devNull)));
    }
    limitAddressSpace(buffer.getBufferSize());
    {
      // Destroyed before the child exits: damage the reader did to the heap
      // shows up when its allocations are freed, here rather than in the
      // caller.
      MLIRContext probe(context.getDialectRegistry(),
                        MLIRContext::Threading::DISABLED);
      probe.allowUnregisteredDialects(context.allowsUnregisteredDialects());
      ScopedDiagnosticHandler silence(&probe,
                                      [](Diagnostic &) { return success(); });
      Block block;
      (void)readBytecodeFile(buffer, &block, ParserConfig(&probe));
    }
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

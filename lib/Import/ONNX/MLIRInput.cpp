//===- MLIRInput.cpp - load .mlir / .mlirbc input safely ------------------===//
//
// The other front end: MLIR input parsed by MLIR's own parser. It lives in
// the importer library because every consumer of ONNX input also takes MLIR.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Import/MLIRInput.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/SourceMgr.h"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

/// What the bytecode reader made of a file, read in a child process.
struct ChildRead {
  int signal = 0;    ///< the signal that ended the child, or 0
  bool read = false; ///< the reader succeeded: `text` is the module
  std::string text;  ///< the module as MLIR text, or the reader's error
};

/// Upstream defects (MLIR 22, found by fuzz/MLIRFuzzer.cpp): the bytecode
/// reader trusts offsets and indices in its input. Malformed bytecode can
/// crash it, and can write past the end of its own heap buffers without
/// crashing (valgrind: `BytecodeReader::Impl::read`, 16-24 bytes after a
/// SmallVector's block), which corrupts the heap of the process that read
/// it for whatever runs next. So the reader runs only in a forked child,
/// with a context of its own, under an address-space cap; the child sends
/// back the module printed as text (locations included), or the reader's
/// first error, through a pipe, and the caller parses that text.
ChildRead readBytecodeInChild(MLIRContext &context,
                              llvm::MemoryBufferRef buffer) {
  ChildRead result;
  int fds[2];
  if (pipe(fds) != 0) {
    result.signal = -errno;
    return result;
  }
  pid_t child = fork();
  if (child < 0) {
    result.signal = -errno;
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (child == 0) {
    close(fds[0]);
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
    std::string message;
    {
      // Destroyed before the child exits: damage the reader did to the heap
      // shows up when its allocations are freed, here, as a signal.
      MLIRContext probe(context.getDialectRegistry(),
                        MLIRContext::Threading::DISABLED);
      probe.allowUnregisteredDialects(context.allowsUnregisteredDialects());
      std::string firstError;
      ScopedDiagnosticHandler collect(&probe, [&](Diagnostic &diag) {
        if (firstError.empty() &&
            diag.getSeverity() == DiagnosticSeverity::Error)
          firstError = diag.str();
        return success();
      });
      Block block;
      if (succeeded(readBytecodeFile(buffer, &block, ParserConfig(&probe)))) {
        // Printed as a top-level op (no parent block), or the file's
        // dialect_resources would be left out; several ops go into one
        // module, as the text parser would put them.
        OwningOpRef<Operation *> top;
        if (llvm::hasSingleElement(block)) {
          Operation &op = block.front();
          op.remove();
          top = &op;
        } else {
          auto module = ModuleOp::create(UnknownLoc::get(&probe));
          module.getBody()->getOperations().splice(module.getBody()->begin(),
                                                   block.getOperations());
          top = module.getOperation();
        }
        message = "M";
        llvm::raw_string_ostream os(message);
        top->print(os, OpPrintingFlags().enableDebugInfo());
      } else {
        message = "E" + (firstError.empty() ? std::string("the bytecode "
                                                          "reader failed")
                                            : firstError);
      }
    }
    const char *data = message.data();
    size_t left = message.size();
    while (left > 0) {
      ssize_t n = write(fds[1], data, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit(1);
      data += n;
      left -= size_t(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string payload;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    payload.append(chunk, size_t(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      break;
  if (WIFSIGNALED(status))
    result.signal = WTERMSIG(status);
  else if (WIFEXITED(status) && WEXITSTATUS(status) > 128)
    result.signal = WEXITSTATUS(status) - 128;
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || payload.empty())
    result.signal = SIGPIPE; // the child could not send its result
  if (result.signal == 0) {
    result.read = payload[0] == 'M';
    result.text = payload.substr(1);
  }
  return result;
}

} // namespace

OwningOpRef<ModuleOp>
parseMLIRBuffer(MLIRContext &context,
                std::unique_ptr<llvm::MemoryBuffer> buffer) {
  StringRef text = buffer->getBuffer();
  if (isBytecode(*buffer)) {
    Location fileLoc =
        FileLineColLoc::get(&context, buffer->getBufferIdentifier(), 0, 0);
    ChildRead child = readBytecodeInChild(context, *buffer);
    if (child.signal < 0) {
      emitError(fileLoc) << "cannot read MLIR bytecode: no child process ("
                         << std::strerror(-child.signal) << ")";
      return nullptr;
    }
    if (child.signal > 0) {
      emitError(fileLoc)
          << "malformed MLIR bytecode: MLIR's bytecode reader crashed on it "
             "(signal "
          << child.signal
          << ", in a child process; an upstream defect, see "
             "docs/Hardening.md)";
      return nullptr;
    }
    if (!child.read) {
      emitError(fileLoc) << "malformed MLIR bytecode: " << child.text;
      return nullptr;
    }
    // The module as text: parsed below like any .mlir file.
    buffer = llvm::MemoryBuffer::getMemBufferCopy(
        child.text + "\n", buffer->getBufferIdentifier());
    text = buffer->getBuffer();
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

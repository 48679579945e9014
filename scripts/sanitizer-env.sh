# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: the sanitizer runtime
# options for sparsec's ASan/UBSan builds. Each option and suppression is
# explained in docs/Hardening.md ("Runtime options").
#
#   SANITIZER_LOG_DIR  if set, every report also goes to a file there (the
#                      sanitizer job fails when the directory is not empty)
sanitizer_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

asan_options=(
  abort_on_error=1         # a report is a SIGABRT: `not` and pytest cannot
                           # mistake it for an expected error exit
  allow_user_poisoning=0   # LLVM headers poison memory that libMLIR.so
                           # (uninstrumented) then hands out unpoisoned
  detect_leaks=1
  strict_init_order=1
  check_initialization_order=1
  detect_stack_use_after_return=1
  symbolize=1
  intercept_tls_get_addr=0 # LLVM <= 16's runtime (Debian's clang 14) takes
                           # some dynamic TLS blocks (libomp's, dlopened by
                           # the JIT) for pre-2.25 glibc ones and reads a
                           # bogus range: LeakSanitizer's tracer then dies
                           # ("Tracer caught signal 11"), 1 exit in ~300
)
ubsan_options=(
  print_stacktrace=1
  halt_on_error=1
  abort_on_error=1
)
lsan_options=(
  suppressions="$sanitizer_root/scripts/lsan.supp"
  print_suppressions=0
)
if [[ -n "${SANITIZER_LOG_DIR:-}" ]]; then
  mkdir -p "$SANITIZER_LOG_DIR"
  asan_options+=(log_path="$SANITIZER_LOG_DIR/report")
  ubsan_options+=(log_path="$SANITIZER_LOG_DIR/report")
fi
ASAN_OPTIONS="$(IFS=:; echo "${asan_options[*]}")"
UBSAN_OPTIONS="$(IFS=:; echo "${ubsan_options[*]}")"
LSAN_OPTIONS="$(IFS=:; echo "${lsan_options[*]}")"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
for sym in /usr/lib/llvm-14/bin/llvm-symbolizer /usr/lib/llvm-22/bin/llvm-symbolizer \
  /usr/bin/llvm-symbolizer; do
  if [[ -x "$sym" ]]; then
    export ASAN_SYMBOLIZER_PATH="$sym" UBSAN_SYMBOLIZER_PATH="$sym"
    break
  fi
done
unset sanitizer_root asan_options ubsan_options lsan_options sym

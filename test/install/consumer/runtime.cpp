// Links sparsec::runtime (libsparsec_runtime.so) only: proves the imported
// target gives the header and the library. Nothing has failed yet, so the
// last error is empty.
#include "sparsec-c/Runtime.h"

#include <cstdio>
#include <cstring>

int main() {
  const char *error = sparsec_rt_last_error();
  if (!error || std::strcmp(error, "") != 0) {
    std::fprintf(stderr, "runtime_consumer: unexpected last error '%s'\n",
                 error ? error : "(null)");
    return 1;
  }
  std::printf("runtime ok\n");
  return 0;
}

// RUN: sparsec-opt %s --verify-diagnostics --sparsec-cpu-schedule-kernel-loops="schedule=fastest"
// RUN: not sparsec-opt %s --sparsec-cpu-schedule-kernel-loops="chunk=0" 2>&1 | FileCheck %s --check-prefix=CHUNK

// Bad options are errors at the module, before anything changes.
// CHUNK: error: sparsec-cpu-schedule-kernel-loops: chunk must be in [1, 2^30], not 0
// expected-error@+1 {{sparsec-cpu-schedule-kernel-loops: schedule must be static, dynamic, guided or runtime, not 'fastest'}}
module {
}

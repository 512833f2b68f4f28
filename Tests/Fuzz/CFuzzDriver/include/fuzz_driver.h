#ifndef SWITCHYARD_FUZZ_DRIVER_H
#define SWITCHYARD_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// One fuzz input; returns 0 (libFuzzer reserves other values).
typedef int (*switchyard_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer (LLVMFuzzerRunDriver) with the process arguments and `callback` as the target.
/// The fuzz executables call it from their own main: SwiftPM links every executable with
/// `--defsym main=<module>_main`, which leaves no room for libFuzzer's main.
int switchyard_fuzz_main(int argc, char **argv, switchyard_fuzz_callback callback);

#endif

#include "fuzz_driver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int switchyard_fuzz_main(int argc, char **argv, switchyard_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}

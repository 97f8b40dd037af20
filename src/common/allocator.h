// Process-wide memory allocator settings for LibTorch on CPU.
#pragma once

namespace vyolo {

// glibc's malloc serves every block above its (dynamic) mmap threshold with a fresh mmap and returns it on free, so
// each of the tens of MB-sized activations of a training step was page-faulted in again: 15 % of the time in the
// kernel and a 2.2x slower forward pass at 320 px (measured, yolov8n batch 16, 2 threads). Raising the threshold to
// glibc's maximum (32 MiB) and not trimming the heap below 1 GiB keeps freed blocks for reuse. Call once at start;
// a no-op outside glibc or with VYOLO_MALLOC_DEFAULT=1 in the environment. Returns whether the settings were applied.
bool tune_allocator();

}  // namespace vyolo

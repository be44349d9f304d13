// Process-wide heap policy for jobs that allocate and free one large buffer set per item.
//
// `ds2 prep` allocates an utterance's audio and features (about 64 + 161 x 400 bytes per second
// of speech, hundreds of KiB per utterance) and frees them once the shard writer has them. With
// glibc's defaults, blocks above the mmap threshold (128 KiB at first) are mmap'ed and unmapped
// on free, and free memory at the top of the heap is trimmed back to the kernel, so every
// utterance faults its buffers in again, zero-filled by the kernel. `ds2 prep --threads 0` on 120
// minutes of audio spent 0.43 s of its 1.46 s of CPU in the kernel, mostly in page faults (perf);
// with freed blocks kept in the process, 0.26 s of 1.33 s (bench/README.md, "prep").
//
// retain_freed_memory() sets glibc's M_MMAP_THRESHOLD (blocks below it come from the heap) and
// M_TRIM_THRESHOLD (free memory kept at the heap top before trimming). Peak RSS does not grow:
// the retained memory is what the job had in use at its peak, reused for the next item. Call it
// once, at the start of a subcommand (it is a process setting, not a library's), before other
// threads allocate. A no-op where the C library has no mallopt().
#pragma once

#include <cstddef>

namespace ds2 {

void retain_freed_memory(size_t mmap_threshold = size_t{64} << 20,
                         size_t trim_threshold = size_t{256} << 20);

}  // namespace ds2

// The noise manifest given to --noise-manifest.
#pragma once

#include <string>
#include <vector>

namespace ds2::augment {

// Reads a noise manifest: one audio path per line (any format libsox reads), relative to the
// manifest's directory unless absolute; a line may have more tab-separated fields after the path
// (ignored, so a corpus TSV manifest works too); blank lines and lines starting with '#' are
// skipped. Returns the resolved paths in file order. Throws IoError when the manifest cannot be
// read and FormatError "FILE: lists no noise files" when it is empty. Decoding the files is the
// caller's job (errors from the decoder name the noise file).
std::vector<std::string> read_noise_list(const std::string& manifest);

}  // namespace ds2::augment

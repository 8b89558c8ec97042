#pragma once

// The final parameters trainers write (`trainer.final_parameters`: flat
// float32), compared: the trainers of a collaborative run end equal.

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace colony::apps {

/// The largest absolute difference between the same parameter in any two of
/// the files. Errors: io_error (unreadable), invalid_argument (fewer than
/// two files, sizes that differ or are not whole floats).
[[nodiscard]] caf::expected<double>
max_parameter_difference(const std::vector<std::string>& paths);

} // namespace colony::apps

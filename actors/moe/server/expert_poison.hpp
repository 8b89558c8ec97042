#pragma once

// Fault injection: an expert that answers with poisoned outputs, as a buggy
// or malicious volunteer might. Clients must survive it (masking wrong
// shapes, and NaN with `detect_anomalies`).

#include <ATen/core/Tensor.h>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace colony::moe {

enum class poison_mode : uint8_t {
  off,
  /// Every element of every floating-point output is NaN.
  nan,
  /// Every output is one column wider than it should be (the batch
  /// dimension stays right, so only a shape check notices).
  wrong_shape,
};

[[nodiscard]] const char* to_string(poison_mode mode) noexcept;

/// Parses "off", "nan" or "wrong_shape"; errc::bad_config otherwise.
[[nodiscard]] caf::expected<poison_mode> parse_poison_mode(std::string_view);

/// `outputs` as a poisoned expert would return them.
[[nodiscard]] std::vector<at::Tensor>
poison_outputs(std::vector<at::Tensor> outputs, poison_mode mode);

/// (poison_atom, poison_mode) -> unit: switches an expert's poison.
using poison_atom = caf::atom_constant<caf::atom("poison")>;

} // namespace colony::moe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::moe::poison_mode)

#pragma once

// What a server tells clients about a hosted expert (`info` and the
// `experts` catalog, messages/expert.capnp), and its encoding.

#include "actors/moe/expert_schema.hpp"
#include "messages/envelope.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace colony::moe {

/// An expert as its server describes it.
struct expert_description {
  std::string uid;
  std::string expert_class;
  uint64_t parameter_count = 0;
  expert_schema schema;
  /// Rows a single call may carry.
  uint64_t max_batch_size = 0;
  /// Codec of the server's replies.
  compression_type compression = compression_type::none;
};

/// Service names of an expert's methods: `expert/<uid>/forward`, ...
[[nodiscard]] std::string expert_service(const std::string& uid,
                                         const char* method);

/// Prefix under which an expert's actor is registered: `expert/<uid>/`.
[[nodiscard]] std::string expert_service_prefix(const std::string& uid);

/// Name of the service that lists every expert of a server.
inline constexpr const char* expert_catalog_service = "experts";

/// Encodes one description as an `ExpertInfo` message.
[[nodiscard]] envelope
encode_expert_info(const expert_description& description);

/// Encodes descriptions as an `ExpertCatalog` message.
[[nodiscard]] envelope
encode_expert_catalog(const std::vector<expert_description>& experts);

/// Decodes an `ExpertInfo`. Errors: malformed (not such a message, or an
/// unknown dtype or codec), too_large (traversal limit).
[[nodiscard]] caf::expected<expert_description>
decode_expert_info(const envelope& message);

/// Decodes an `ExpertCatalog`; errors as for `decode_expert_info`.
[[nodiscard]] caf::expected<std::vector<expert_description>>
decode_expert_catalog(const envelope& message);

} // namespace colony::moe

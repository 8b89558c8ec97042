#include "actors/averaging/state_codec.hpp"

#include "actors/averaging/detail/error_prefix.hpp"
#include "messages/averaging.capnp.h"
#include "messages/error.hpp"
#include "messages/flat_builder.hpp"
#include "messages/flat_message.hpp"

#include <c10/core/ScalarType.h>
#include <capnp/message.h>

#include <algorithm>
#include <string>

namespace colony::averaging {

using detail::with_prefix;

namespace {

/// Words of a part beyond its chunks' tensors (`tensor_message_words`):
/// headers and list tags, and per chunk its `StateChunk` struct (3 words,
/// rounded up). A short estimate costs a copy, a long one zeroed memory.
constexpr uint64_t base_words = 64;
constexpr uint64_t words_per_chunk = 4;

} // namespace

caf::error check_state_tensors(const std::vector<state_tensor_info>& tensors,
                               const state_limits& limits) {
  if (tensors.size() > limits.max_tensors)
    return make_error(errc::too_large, std::to_string(tensors.size()) +
                                           " state tensors, limit is " +
                                           std::to_string(limits.max_tensors));
  const auto max_numel = limits.tensors.max_numel;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& info = tensors[i];
    auto name = "state tensor " + std::to_string(i);
    if (info.shape.size() > limits.tensors.max_dims)
      return make_error(errc::too_large,
                        name + " has " + std::to_string(info.shape.size()) +
                            " dims, limit is " +
                            std::to_string(limits.tensors.max_dims));
    uint64_t numel = 1;
    uint64_t bound = 1; // zero dims count as 1, as in tensor_limits
    for (auto dim : info.shape) {
      if (dim < 0)
        return make_error(errc::bad_shape, name + " has a negative dimension");
      auto udim = std::max<uint64_t>(static_cast<uint64_t>(dim), 1);
      if (udim > max_numel / bound)
        return make_error(errc::too_large, name + " has more than " +
                                               std::to_string(max_numel) +
                                               " elements");
      bound *= udim;
      numel *= static_cast<uint64_t>(dim);
    }
    auto bytes = numel * c10::elementSize(info.dtype);
    if (bytes > limits.max_total_bytes - total_bytes)
      return make_error(errc::too_large,
                        "state tensors exceed " +
                            std::to_string(limits.max_total_bytes) + " bytes");
    total_bytes += bytes;
  }
  return {};
}

envelope encode_state_request(const state_request& request) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::StateRequest>();
  root.setSnapshot(request.snapshot);
  root.setPartIndex(request.part_index);
  return to_envelope(message);
}

caf::expected<state_request> decode_state_request(const envelope& message) {
  return read_flat_message(
      message, "state request",
      [](capnp::MessageReader& reader) -> caf::expected<state_request> {
        auto root = reader.getRoot<wire::StateRequest>();
        state_request out{root.getSnapshot(), root.getPartIndex()};
        if (out.snapshot == 0 && out.part_index != 0)
          return make_error(errc::malformed,
                            "a state download starts at part 0");
        return out;
      });
}

caf::expected<envelope> encode_state_part(const state_part& part) {
  // Sized for the whole part, so that it is built in place in the
  // envelope's buffer: each chunk's bytes are written once (one memcpy for
  // `none`), not into a builder's segment and then copied again.
  uint64_t words =
      base_words + part.metadata.size() / 8 + part.tensors.size() * (4 + 8);
  uint64_t blob_words = 0;
  for (const auto& chunk : part.chunks) {
    words += words_per_chunk + tensor_message_words(chunk.values, chunk.codec);
    blob_words += tensor_blob_words(chunk.values, chunk.codec);
  }
  flat_builder builder{words, blob_words};
  auto& message = builder.message();
  auto root = message.initRoot<wire::StatePart>();
  root.setSnapshot(part.snapshot);
  root.setPartIndex(part.part_index);
  root.setPartCount(part.part_count);
  root.setMetadata(capnp::Data::Reader{
      reinterpret_cast<const capnp::byte*>(part.metadata.data()),
      part.metadata.size()});
  auto infos = root.initTensors(static_cast<unsigned>(part.tensors.size()));
  for (unsigned i = 0; i < infos.size(); ++i) {
    const auto& info = part.tensors[i];
    auto dtype = to_wire_dtype(info.dtype);
    if (!dtype)
      return make_error(errc::unknown_dtype,
                        "state tensor " + std::to_string(i) + " has dtype " +
                            c10::toString(info.dtype) +
                            ", which the wire lacks");
    infos[i].setDtype(*dtype);
    auto shape = infos[i].initShape(static_cast<unsigned>(info.shape.size()));
    for (unsigned d = 0; d < shape.size(); ++d)
      shape.set(d, info.shape[d]);
  }
  auto chunks = root.initChunks(static_cast<unsigned>(part.chunks.size()));
  for (unsigned i = 0; i < chunks.size(); ++i) {
    const auto& chunk = part.chunks[i];
    chunks[i].setTensorIndex(chunk.tensor_index);
    chunks[i].setOffset(chunk.offset);
    if (auto err =
            encode_tensor(chunk.values, chunk.codec, chunks[i].initValues()))
      return with_prefix(err, "chunk " + std::to_string(i) + ": ");
  }
  return builder.finish();
}

caf::expected<state_part> decode_state_part(const envelope& message,
                                            const state_limits& limits) {
  return read_flat_message(
      message, "state part",
      [&](capnp::MessageReader& reader) -> caf::expected<state_part> {
        auto root = reader.getRoot<wire::StatePart>();
        state_part out;
        out.snapshot = root.getSnapshot();
        out.part_index = root.getPartIndex();
        out.part_count = root.getPartCount();
        if (out.snapshot == 0)
          return make_error(errc::malformed, "state part without a snapshot");
        if (out.part_index >= out.part_count ||
            out.part_count > limits.max_parts)
          return make_error(errc::malformed,
                            "state part " + std::to_string(out.part_index) +
                                " of " + std::to_string(out.part_count) +
                                " (at most " +
                                std::to_string(limits.max_parts) + " parts)");
        auto metadata = root.getMetadata();
        if (metadata.size() > limits.max_metadata_bytes)
          return make_error(errc::malformed,
                            "metadata has " + std::to_string(metadata.size()) +
                                " bytes, limit is " +
                                std::to_string(limits.max_metadata_bytes));
        out.metadata.assign(reinterpret_cast<const char*>(metadata.begin()),
                            metadata.size());
        auto infos = root.getTensors();
        if (infos.size() > limits.max_tensors)
          return make_error(errc::malformed,
                            std::to_string(infos.size()) +
                                " state tensors, limit is " +
                                std::to_string(limits.max_tensors));
        for (unsigned i = 0; i < infos.size(); ++i) {
          auto dtype = from_wire_dtype(infos[i].getDtype());
          if (!dtype)
            return make_error(errc::unknown_dtype, "state tensor " +
                                                       std::to_string(i) +
                                                       " has an unknown dtype");
          auto shape = infos[i].getShape();
          if (shape.size() > limits.tensors.max_dims)
            return make_error(errc::too_large,
                              "state tensor " + std::to_string(i) + " has " +
                                  std::to_string(shape.size()) + " dims");
          state_tensor_info info;
          info.dtype = *dtype;
          for (auto d : shape)
            info.shape.push_back(d);
          out.tensors.push_back(std::move(info));
        }
        if (auto err = check_state_tensors(out.tensors, limits))
          return err;
        auto chunks = root.getChunks();
        if (chunks.size() > limits.max_chunks_per_part)
          return make_error(errc::malformed,
                            std::to_string(chunks.size()) +
                                " chunks in a part, limit is " +
                                std::to_string(limits.max_chunks_per_part));
        out.chunks.reserve(chunks.size());
        for (unsigned i = 0; i < chunks.size(); ++i) {
          auto in = chunks[i];
          auto values =
              decode_tensor(in.getValues(), limits.tensors, message.buffer());
          if (!values)
            return with_prefix(values.error(),
                               "chunk " + std::to_string(i) + ": ");
          auto codec = from_wire_compression(in.getValues().getCompression());
          out.chunks.push_back({in.getTensorIndex(), in.getOffset(),
                                std::move(*values),
                                codec.value_or(compression_type::none)});
        }
        return out;
      });
}

} // namespace colony::averaging

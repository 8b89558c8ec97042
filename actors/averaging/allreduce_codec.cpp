#include "actors/averaging/allreduce_codec.hpp"

#include "actors/averaging/detail/error_prefix.hpp"
#include "messages/averaging.capnp.h"
#include "messages/error.hpp"
#include "messages/flat_builder.hpp"
#include "messages/flat_message.hpp"
#include "messages/tensor_codec.hpp"

#include <ATen/ATen.h>
#include <capnp/message.h>

#include <algorithm>
#include <string>
#include <type_traits>

namespace colony::averaging {

using detail::with_prefix;

namespace {

/// Words of a message beyond its tensor: struct headers, pointers, the
/// group id, contributors and a refusal's text.
constexpr uint64_t message_overhead_words = 64;

/// The estimated words of a message carrying `values` (or none).
uint64_t message_words(const at::Tensor* values, compression_type codec,
                       uint64_t extra_bytes) {
  return message_overhead_words + (extra_bytes + 7) / 8 +
         (values ? tensor_message_words(*values, codec) : 0);
}

wire::PartRefusalReason to_wire(exclusion_reason reason) {
  switch (reason) {
  case exclusion_reason::timeout:
    return wire::PartRefusalReason::TIMEOUT;
  case exclusion_reason::failed:
    return wire::PartRefusalReason::FAILED;
  case exclusion_reason::wrong_size:
    return wire::PartRefusalReason::WRONG_SIZE;
  case exclusion_reason::wrong_group:
    return wire::PartRefusalReason::WRONG_GROUP;
  case exclusion_reason::non_finite:
    return wire::PartRefusalReason::NON_FINITE;
  case exclusion_reason::out_of_order:
    return wire::PartRefusalReason::OUT_OF_ORDER;
  case exclusion_reason::bad_weight:
    return wire::PartRefusalReason::BAD_WEIGHT;
  case exclusion_reason::not_a_sender:
    return wire::PartRefusalReason::NOT_A_SENDER;
  case exclusion_reason::not_averaged:
    return wire::PartRefusalReason::NOT_AVERAGED;
  }
  return wire::PartRefusalReason::FAILED;
}

exclusion_reason from_wire(wire::PartRefusalReason reason) {
  switch (reason) {
  case wire::PartRefusalReason::TIMEOUT:
    return exclusion_reason::timeout;
  case wire::PartRefusalReason::FAILED:
    return exclusion_reason::failed;
  case wire::PartRefusalReason::WRONG_SIZE:
    return exclusion_reason::wrong_size;
  case wire::PartRefusalReason::WRONG_GROUP:
    return exclusion_reason::wrong_group;
  case wire::PartRefusalReason::NON_FINITE:
    return exclusion_reason::non_finite;
  case wire::PartRefusalReason::OUT_OF_ORDER:
    return exclusion_reason::out_of_order;
  case wire::PartRefusalReason::BAD_WEIGHT:
    return exclusion_reason::bad_weight;
  case wire::PartRefusalReason::NOT_A_SENDER:
    return exclusion_reason::not_a_sender;
  case wire::PartRefusalReason::NOT_AVERAGED:
    return exclusion_reason::not_averaged;
  }
  return exclusion_reason::failed; // a newer peer's reason
}

/// `text` if it is within `limit` bytes, else errc::malformed.
caf::expected<std::string> bounded_text(capnp::Text::Reader text, size_t limit,
                                        const char* what) {
  if (text.size() > limit)
    return make_error(errc::malformed, std::string{what} + " has " +
                                           std::to_string(text.size()) +
                                           " bytes, limit is " +
                                           std::to_string(limit));
  return std::string{text.cStr(), text.size()};
}

} // namespace

caf::expected<envelope> encode_reducer_request(const reducer_request& request,
                                               compression_type codec) {
  const auto* part = std::get_if<part_message>(&request);
  const auto& group_id =
      part ? part->group_id : std::get<sender_abort>(request).group_id;
  auto text_bytes = part ? 0 : std::get<sender_abort>(request).reason.size();
  flat_builder message{message_words(part ? &part->values : nullptr, codec,
                                     group_id.size() + text_bytes),
                       part ? tensor_blob_words(part->values, codec) : 0};
  auto root = message.message().initRoot<wire::AllReduceRequest>();
  auto set_group = [&](const std::string& id) {
    root.setGroupId(capnp::Data::Reader{
        reinterpret_cast<const capnp::byte*>(id.data()), id.size()});
  };
  if (part != nullptr) {
    set_group(part->group_id);
    root.setSender(part->sender);
    auto out = root.initPart();
    out.setPartIndex(part->part_index);
    out.setWeight(part->weight);
    if (auto err = encode_tensor(part->values, codec, out.initValues()))
      return with_prefix(err,
                         "part " + std::to_string(part->part_index) + ": ");
  } else {
    const auto& abort = std::get<sender_abort>(request);
    set_group(abort.group_id);
    root.setSender(abort.sender);
    root.setAbort(abort.reason);
  }
  return message.finish();
}

caf::expected<reducer_request>
decode_reducer_request(const envelope& message,
                       const allreduce_limits& limits) {
  return read_flat_message(
      message, "all-reduce request",
      [&](capnp::MessageReader& reader) -> caf::expected<reducer_request> {
        auto root = reader.getRoot<wire::AllReduceRequest>();
        auto group = root.getGroupId();
        if (group.size() > limits.max_group_id_bytes)
          return make_error(errc::malformed,
                            "group id has " + std::to_string(group.size()) +
                                " bytes, limit is " +
                                std::to_string(limits.max_group_id_bytes));
        std::string group_id{reinterpret_cast<const char*>(group.begin()),
                             group.size()};
        switch (root.which()) {
        case wire::AllReduceRequest::PART: {
          auto in = root.getPart();
          part_message out;
          out.group_id = std::move(group_id);
          out.sender = root.getSender();
          out.part_index = in.getPartIndex();
          out.weight = in.getWeight();
          auto values =
              decode_tensor(in.getValues(), limits.tensors, message.buffer());
          if (!values)
            return with_prefix(values.error(),
                               "part " + std::to_string(out.part_index) + ": ");
          out.values = std::move(*values);
          return reducer_request{std::move(out)};
        }
        case wire::AllReduceRequest::ABORT: {
          auto reason =
              bounded_text(root.getAbort(), limits.max_text_bytes, "abort");
          if (!reason)
            return reason.error();
          return reducer_request{sender_abort{
              std::move(group_id), root.getSender(), std::move(*reason)}};
        }
        }
        return make_error(errc::malformed,
                          "unknown all-reduce request (a newer peer?)");
      });
}

caf::expected<envelope> encode_part_reply(const part_reply& reply,
                                          compression_type codec) {
  const auto* delta = std::get_if<part_delta>(&reply);
  auto extra_bytes = delta ? 4 * delta->contributors.size()
                           : std::get<part_refusal>(reply).message.size();
  flat_builder message{
      message_words(delta ? &delta->values : nullptr, codec, extra_bytes),
      delta ? tensor_blob_words(delta->values, codec) : 0};
  auto root = message.message().initRoot<wire::AllReduceReply>();
  if (delta != nullptr) {
    root.setPartIndex(delta->part_index);
    auto out = root.initDelta();
    if (auto err = encode_tensor(delta->values, codec, out.initValues()))
      return with_prefix(err, "delta of part " +
                                  std::to_string(delta->part_index) + ": ");
    auto list =
        out.initContributors(static_cast<unsigned>(delta->contributors.size()));
    for (unsigned i = 0; i < list.size(); ++i)
      list.set(i, delta->contributors[i]);
  } else {
    const auto& refusal = std::get<part_refusal>(reply);
    root.setPartIndex(refusal.part_index);
    auto out = root.initRefused();
    out.setReason(to_wire(refusal.reason));
    out.setMessage(refusal.message);
  }
  return message.finish();
}

caf::expected<envelope>
encode_delta_reply(uint32_t part_index, const at::Tensor& average,
                   const at::Tensor& sent, at::ScalarType dtype,
                   const std::vector<uint32_t>& contributors,
                   compression_type codec) {
  // Sized as the delta: the sent part has its numel, shape and dtype.
  flat_builder message{message_words(&sent, codec, 4 * contributors.size()),
                       tensor_blob_words(sent, codec)};
  auto root = message.message().initRoot<wire::AllReduceReply>();
  root.setPartIndex(part_index);
  auto out = root.initDelta();
  auto err = encode_tensor_filled(
      dtype, sent.sizes(), codec,
      [&](at::Tensor& target) { at::sub_out(target, average, sent); },
      out.initValues());
  if (err)
    return with_prefix(err,
                       "delta of part " + std::to_string(part_index) + ": ");
  auto list = out.initContributors(static_cast<unsigned>(contributors.size()));
  for (unsigned i = 0; i < list.size(); ++i)
    list.set(i, contributors[i]);
  return message.finish();
}

caf::expected<part_reply> decode_part_reply(const envelope& message,
                                            const allreduce_limits& limits) {
  return read_flat_message(
      message, "all-reduce reply",
      [&](capnp::MessageReader& reader) -> caf::expected<part_reply> {
        auto root = reader.getRoot<wire::AllReduceReply>();
        auto index = root.getPartIndex();
        switch (root.which()) {
        case wire::AllReduceReply::DELTA: {
          auto in = root.getDelta();
          auto contributors = in.getContributors();
          if (contributors.size() > limits.max_contributors)
            return make_error(errc::malformed,
                              std::to_string(contributors.size()) +
                                  " contributors, limit is " +
                                  std::to_string(limits.max_contributors));
          part_delta out;
          out.part_index = index;
          out.contributors.reserve(contributors.size());
          for (auto c : contributors)
            out.contributors.push_back(c);
          auto values =
              decode_tensor(in.getValues(), limits.tensors, message.buffer());
          if (!values)
            return with_prefix(values.error(),
                               "delta of part " + std::to_string(index) + ": ");
          out.values = std::move(*values);
          return part_reply{std::move(out)};
        }
        case wire::AllReduceReply::REFUSED: {
          auto in = root.getRefused();
          auto text =
              bounded_text(in.getMessage(), limits.max_text_bytes, "refusal");
          if (!text)
            return text.error();
          return part_reply{
              part_refusal{index, from_wire(in.getReason()), std::move(*text)}};
        }
        }
        return make_error(errc::malformed,
                          "unknown all-reduce reply (a newer peer?)");
      });
}

} // namespace colony::averaging

#include "actors/moe/expert_description.hpp"

#include "messages/error.hpp"
#include "messages/expert.capnp.h"
#include "messages/flat_message.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

namespace colony::moe {

namespace {

void write_schemas(const std::vector<tensor_schema>& schemas,
                   capnp::List<wire::TensorSchema>::Builder out) {
  for (size_t i = 0; i < schemas.size(); ++i) {
    auto entry = out[static_cast<unsigned>(i)];
    auto shape =
        entry.initShape(static_cast<unsigned>(schemas[i].shape.size()));
    for (size_t d = 0; d < schemas[i].shape.size(); ++d)
      shape.set(static_cast<unsigned>(d), schemas[i].shape[d]);
    // Schemas come from tensors the server built: a dtype without a wire
    // name would have failed when the server encoded a reply anyway.
    entry.setDtype(
        to_wire_dtype(schemas[i].dtype).value_or(wire::DType::FLOAT32));
  }
}

void write_info(const expert_description& d, wire::ExpertInfo::Builder out) {
  out.setUid(d.uid);
  out.setExpertClass(d.expert_class);
  out.setParameterCount(d.parameter_count);
  write_schemas(d.schema.inputs,
                out.initInputs(static_cast<unsigned>(d.schema.inputs.size())));
  write_schemas(d.schema.outputs, out.initOutputs(static_cast<unsigned>(
                                      d.schema.outputs.size())));
  out.setMaxBatchSize(d.max_batch_size);
  out.setCompression(to_wire_compression(d.compression));
}

caf::expected<std::vector<tensor_schema>>
read_schemas(capnp::List<wire::TensorSchema>::Reader in) {
  std::vector<tensor_schema> result;
  for (auto entry : in) {
    tensor_schema s;
    for (auto d : entry.getShape()) {
      if (d < 0)
        return make_error(errc::malformed, "negative dimension in a schema");
      s.shape.push_back(d);
    }
    auto dtype = from_wire_dtype(entry.getDtype());
    if (!dtype)
      return make_error(errc::malformed, "unknown dtype in a schema");
    s.dtype = *dtype;
    result.push_back(std::move(s));
  }
  return result;
}

caf::expected<expert_description> read_info(wire::ExpertInfo::Reader in) {
  expert_description d;
  d.uid = in.getUid();
  d.expert_class = in.getExpertClass();
  d.parameter_count = in.getParameterCount();
  auto inputs = read_schemas(in.getInputs());
  if (!inputs)
    return std::move(inputs.error());
  auto outputs = read_schemas(in.getOutputs());
  if (!outputs)
    return std::move(outputs.error());
  d.schema.inputs = std::move(*inputs);
  d.schema.outputs = std::move(*outputs);
  d.max_batch_size = in.getMaxBatchSize();
  auto codec = from_wire_compression(in.getCompression());
  if (!codec)
    return make_error(errc::malformed, "unknown compression in expert info");
  d.compression = *codec;
  return d;
}

} // namespace

std::string expert_service(const std::string& uid, const char* method) {
  return expert_service_prefix(uid) + method;
}

std::string expert_service_prefix(const std::string& uid) {
  return "expert/" + uid + "/";
}

envelope encode_expert_info(const expert_description& description) {
  capnp::MallocMessageBuilder message;
  write_info(description, message.initRoot<wire::ExpertInfo>());
  return to_envelope(message);
}

envelope encode_expert_catalog(const std::vector<expert_description>& experts) {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<wire::ExpertCatalog>().initExperts(
      static_cast<unsigned>(experts.size()));
  for (size_t i = 0; i < experts.size(); ++i)
    write_info(experts[i], list[static_cast<unsigned>(i)]);
  return to_envelope(message);
}

caf::expected<expert_description> decode_expert_info(const envelope& message) {
  return read_flat_message(
      message, "expert info", [](capnp::MessageReader& reader) {
        return read_info(reader.getRoot<wire::ExpertInfo>());
      });
}

caf::expected<std::vector<expert_description>>
decode_expert_catalog(const envelope& message) {
  return read_flat_message(
      message, "expert catalog",
      [](capnp::MessageReader& reader)
          -> caf::expected<std::vector<expert_description>> {
        std::vector<expert_description> result;
        for (auto entry : reader.getRoot<wire::ExpertCatalog>().getExperts()) {
          auto d = read_info(entry);
          if (!d)
            return std::move(d.error());
          result.push_back(std::move(*d));
        }
        return result;
      });
}

} // namespace colony::moe

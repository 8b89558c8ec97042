#include "actors/moe/expert_record.hpp"

#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"
#include "messages/expert_record.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>
#include <new>

namespace colony::moe {

namespace {

caf::error malformed(const std::string& why) {
  return make_error(errc::malformed, "bad expert record: " + why);
}

// Text fields as std::string; `Text::Reader` knows its size, so embedded
// NULs survive and are then rejected by the uid check.
std::string to_std(capnp::Text::Reader text) {
  return std::string{text.cStr(), text.size()};
}

} // namespace

std::string encode_expert_info(const expert_info& info) {
  capnp::MallocMessageBuilder message;
  auto record = message.initRoot<wire::ExpertRecord>();
  record.setUid(capnp::Text::Reader{info.uid.data(), info.uid.size()});
  record.setPeerId(
      capnp::Text::Reader{info.peer_id.data(), info.peer_id.size()});
  record.setAddress(
      capnp::Text::Reader{info.address.data(), info.address.size()});
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string{reinterpret_cast<const char*>(bytes.begin()),
                     bytes.size()};
}

caf::expected<expert_info> decode_expert_info(std::string_view bytes) {
  if (bytes.empty())
    return malformed("empty value");
  if (bytes.size() > max_expert_record_bytes)
    return malformed(std::to_string(bytes.size()) + " bytes, above the bound " +
                     std::to_string(max_expert_record_bytes));
  if (bytes.size() % sizeof(capnp::word) != 0)
    return malformed(std::to_string(bytes.size()) +
                     " bytes, not a whole number of words");
  expert_info info;
  try {
    // DHT values carry no alignment promise: copy into words first.
    auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    capnp::ReaderOptions options;
    // A record is a few hundred bytes; the bound stops amplification.
    options.traversalLimitInWords =
        max_expert_record_bytes / sizeof(capnp::word);
    options.nestingLimit = 4;
    capnp::FlatArrayMessageReader reader{words, options};
    auto record = reader.getRoot<wire::ExpertRecord>();
    info.uid = to_std(record.getUid());
    info.peer_id = to_std(record.getPeerId());
    info.address = to_std(record.getAddress());
  } catch (const kj::Exception& e) {
    return malformed(e.getDescription().cStr());
  } catch (const std::bad_alloc&) {
    return malformed("out of memory");
  }
  if (!is_valid_uid(info.uid))
    return malformed("invalid uid '" + info.uid + "'");
  if (info.peer_id.empty())
    return malformed("empty peer id for expert '" + info.uid + "'");
  if (info.address.empty())
    return malformed("empty address for expert '" + info.uid + "'");
  return info;
}

} // namespace colony::moe

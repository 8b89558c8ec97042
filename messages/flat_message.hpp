#pragma once

#include "messages/envelope.hpp"
#include "messages/error.hpp"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <string>
#include <utility>

namespace colony {

/// Reads the flat Cap'n Proto message in `message` with `read(reader)`,
/// under `reader_limits`. Bytes that do not decode (a broken segment table,
/// a lying pointer, a partial word) become errc::malformed naming `what`,
/// never an exception: these bytes come from other nodes.
template <class F>
auto read_flat_message(const envelope& message, const char* what, F&& read)
    -> decltype(read(std::declval<capnp::MessageReader&>())) {
  if (message.size() % sizeof(capnp::word) != 0)
    return make_error(errc::malformed, std::string{what} + ": " +
                                           std::to_string(message.size()) +
                                           " bytes, not whole 8-byte words");
  try {
    capnp::FlatArrayMessageReader reader{message.words(),
                                         reader_limits{}.options()};
    return read(reader);
  } catch (const kj::Exception& e) {
    return make_error(errc::malformed, std::string{"undecodable "} + what +
                                           ": " + e.getDescription().cStr());
  }
}

} // namespace colony

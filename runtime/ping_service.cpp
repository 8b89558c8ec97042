#include "runtime/ping_service.hpp"

#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "messages/ping.capnp.h"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

#include <kj/exception.h>

namespace colony {

caf::expected<envelope> answer_ping(const envelope& body,
                                    const std::string& peer_id) {
  if (auto err = check_flat_message(body.data(), body.size(), body.size()))
    return make_error(errc::malformed, "ping body: " + error_reason(err));
  try {
    capnp::FlatArrayMessageReader reader(body.words(),
                                         reader_limits{}.options());
    auto req = reader.getRoot<wire::PingRequest>();
    auto payload = req.getPayload();
    auto echo = req.getEchoPayload();
    capnp::MallocMessageBuilder msg(
        echo ? payload.size() / sizeof(capnp::word) + 16 : 16);
    auto resp = msg.initRoot<wire::PingResponse>();
    resp.setSentAtNs(req.getSentAtNs());
    resp.setPeerId(peer_id);
    resp.setReceivedBytes(payload.size());
    if (echo)
      resp.setPayload(payload);
    return to_envelope(msg);
  } catch (const kj::Exception& ex) {
    return make_error(errc::malformed,
                      std::string("ping body: ") + ex.getDescription().cStr());
  }
}

caf::behavior ping_service(caf::event_based_actor* self, std::string peer_id) {
  return {
      [peer_id](serve_atom, const std::string&, const std::string&,
                const envelope& body) -> caf::result<envelope> {
        auto reply = answer_ping(body, peer_id);
        if (!reply)
          return std::move(reply.error());
        return std::move(*reply);
      },
  };
}

} // namespace colony

#include "actors/control/control_codec.hpp"

#include "messages/control.capnp.h"
#include "messages/error.hpp"
#include "messages/flat_message.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cmath>
#include <limits>

namespace colony::control {

namespace {

void write_faults(const fault_settings& f, wire::FaultSettings::Builder out) {
  out.setDelayMs(static_cast<uint32_t>(f.delay.count()));
  out.setJitterMs(static_cast<uint32_t>(f.jitter.count()));
  out.setDropRate(f.drop_rate);
  auto peers = out.initPartitioned(static_cast<unsigned>(f.partitioned.size()));
  for (size_t i = 0; i < f.partitioned.size(); ++i)
    peers.set(static_cast<unsigned>(i), f.partitioned[i]);
  out.setSeed(f.seed);
}

fault_settings read_faults(wire::FaultSettings::Reader in) {
  fault_settings f;
  f.delay = std::chrono::milliseconds(in.getDelayMs());
  f.jitter = std::chrono::milliseconds(in.getJitterMs());
  f.drop_rate = in.getDropRate();
  for (auto p : in.getPartitioned())
    f.partitioned.emplace_back(p.cStr());
  f.seed = in.getSeed();
  return f;
}

wire::PoisonMode to_wire(moe::poison_mode mode) {
  switch (mode) {
  case moe::poison_mode::nan:
    return wire::PoisonMode::NAN_VALUES;
  case moe::poison_mode::wrong_shape:
    return wire::PoisonMode::WRONG_SHAPE;
  case moe::poison_mode::off:
    break;
  }
  return wire::PoisonMode::OFF;
}

} // namespace

envelope encode_control_request(const control_request& request) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ControlRequest>();
  switch (request.kind) {
  case control_request::kind_type::status:
    root.setStatus();
    break;
  case control_request::kind_type::set_faults:
    write_faults(request.faults, root.initSetFaults());
    break;
  case control_request::kind_type::poison: {
    auto p = root.initPoison();
    p.setMode(to_wire(request.poison));
    auto uids = p.initUids(static_cast<unsigned>(request.uids.size()));
    for (size_t i = 0; i < request.uids.size(); ++i)
      uids.set(static_cast<unsigned>(i), request.uids[i]);
    break;
  }
  }
  return to_envelope(message);
}

caf::expected<control_request> decode_control_request(const envelope& message) {
  return read_flat_message(
      message, "control request",
      [](capnp::MessageReader& reader) -> caf::expected<control_request> {
        auto root = reader.getRoot<wire::ControlRequest>();
        control_request r;
        switch (root.which()) {
        case wire::ControlRequest::STATUS:
          r.kind = control_request::kind_type::status;
          return r;
        case wire::ControlRequest::SET_FAULTS: {
          r.kind = control_request::kind_type::set_faults;
          r.faults = read_faults(root.getSetFaults());
          auto rate = r.faults.drop_rate;
          if (!(rate >= 0 && rate <= 1))
            return make_error(errc::invalid_argument,
                              "drop rate must be in [0, 1], got " +
                                  std::to_string(rate));
          return r;
        }
        case wire::ControlRequest::POISON: {
          r.kind = control_request::kind_type::poison;
          auto p = root.getPoison();
          switch (p.getMode()) {
          case wire::PoisonMode::OFF:
            r.poison = moe::poison_mode::off;
            break;
          case wire::PoisonMode::NAN_VALUES:
            r.poison = moe::poison_mode::nan;
            break;
          case wire::PoisonMode::WRONG_SHAPE:
            r.poison = moe::poison_mode::wrong_shape;
            break;
          default:
            return make_error(errc::invalid_argument, "unknown poison mode");
          }
          for (auto uid : p.getUids())
            r.uids.emplace_back(uid.cStr());
          return r;
        }
        }
        return make_error(errc::invalid_argument,
                          "unknown control request (a newer peer?)");
      });
}

envelope encode_node_status(const node_status& s) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::NodeStatus>();
  out.setPeerId(s.peer_id);
  out.setAddress(s.address);
  out.setUptimeS(s.uptime_s);
  out.setRssBytes(s.rss_bytes);
  out.setWarnings(s.warnings);
  out.setErrors(s.errors);
  out.setConnections(s.connections);
  out.setHasDht(s.has_dht);
  out.setDhtGets(s.dht_gets);
  out.setDhtGetsFound(s.dht_gets_found);
  out.setDhtStores(s.dht_stores);
  out.setDhtStoresAccepted(s.dht_stores_accepted);
  out.setRoutingTableSize(s.routing_table_size);
  out.setExpertsServed(s.experts_served);
  out.setExpertsPoisoned(s.experts_poisoned);
  write_faults(s.faults, out.initFaults());
  out.setMessagesDelayed(s.fault_counts.messages_delayed);
  out.setMessagesDropped(s.fault_counts.messages_dropped);
  out.setFramesPartitioned(s.fault_counts.frames_partitioned);
  if (s.training) {
    const auto& t = *s.training;
    auto tr = out.initTraining();
    tr.setTimeS(t.time_s);
    tr.setStep(t.step);
    tr.setSamples(t.samples);
    tr.setTrainLoss(t.train_loss);
    tr.setSamplesPerS(t.samples_per_s);
    tr.setLiveExperts(t.live_experts);
    tr.setFailedCalls(t.failed_calls);
    tr.setTestAccuracy(
        t.test_accuracy.value_or(std::numeric_limits<double>::quiet_NaN()));
    tr.setFinished(s.training_finished);
  }
  return to_envelope(message);
}

caf::expected<node_status> decode_node_status(const envelope& message) {
  return read_flat_message(
      message, "node status",
      [](capnp::MessageReader& reader) -> caf::expected<node_status> {
        auto in = reader.getRoot<wire::NodeStatus>();
        node_status s;
        s.peer_id = in.getPeerId();
        s.address = in.getAddress();
        s.uptime_s = in.getUptimeS();
        s.rss_bytes = in.getRssBytes();
        s.warnings = in.getWarnings();
        s.errors = in.getErrors();
        s.connections = in.getConnections();
        s.has_dht = in.getHasDht();
        s.dht_gets = in.getDhtGets();
        s.dht_gets_found = in.getDhtGetsFound();
        s.dht_stores = in.getDhtStores();
        s.dht_stores_accepted = in.getDhtStoresAccepted();
        s.routing_table_size = in.getRoutingTableSize();
        s.experts_served = in.getExpertsServed();
        s.experts_poisoned = in.getExpertsPoisoned();
        s.faults = read_faults(in.getFaults());
        s.fault_counts.messages_delayed = in.getMessagesDelayed();
        s.fault_counts.messages_dropped = in.getMessagesDropped();
        s.fault_counts.frames_partitioned = in.getFramesPartitioned();
        if (in.hasTraining()) {
          auto tr = in.getTraining();
          trainer::training_record t;
          t.time_s = tr.getTimeS();
          t.step = tr.getStep();
          t.samples = tr.getSamples();
          t.train_loss = tr.getTrainLoss();
          t.samples_per_s = tr.getSamplesPerS();
          t.live_experts = tr.getLiveExperts();
          t.failed_calls = tr.getFailedCalls();
          if (std::isfinite(tr.getTestAccuracy()))
            t.test_accuracy = tr.getTestAccuracy();
          s.training_finished = tr.getFinished();
          s.training = t;
        }
        return s;
      });
}

} // namespace colony::control

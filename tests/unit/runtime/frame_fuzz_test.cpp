#include "runtime/transport/frame_reader.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/transport/frame_writer.hpp"

#include <gtest/gtest.h>
#include <kj/exception.h>

#include <random>

using namespace colony;

namespace {

std::vector<std::vector<char>> seed_frames() {
  std::vector<std::vector<char>> seeds;
  auto add = [&](capnp::MessageBuilder& msg) {
    std::vector<char> out;
    write_frame(msg, [&](const void* p, size_t n) {
      auto* c = static_cast<const char*>(p);
      out.insert(out.end(), c, c + n);
    });
    seeds.push_back(std::move(out));
  };
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<wire::Frame>().initRequest();
    req.setCallId(42);
    req.setService("expert/ffn.0.1");
    req.setTotalBytes(64);
    req.initBody(64);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto hello = msg.initRoot<wire::Frame>().initHello();
    hello.setSwarmId("colony");
    hello.initPublicKey(32);
    hello.initNonce(32);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<wire::Frame>().initError();
    e.setMessage("boom");
    add(msg);
  }
  return seeds;
}

/// Walks every field of a decoded frame, as the transport would.
void touch(wire::Frame::Reader f) {
  switch (f.which()) {
  case wire::Frame::REQUEST:
    (void)f.getRequest().getService().size();
    (void)f.getRequest().getBody().size();
    break;
  case wire::Frame::HELLO:
    (void)f.getHello().getSwarmId().size();
    (void)f.getHello().getPublicKey().size();
    break;
  case wire::Frame::ERROR:
    (void)f.getError().getMessage().size();
    break;
  case wire::Frame::PART:
    (void)f.getPart().getData().size();
    break;
  default:
    break;
  }
}

} // namespace

// Feeds 100k mutated frames through the frame reader and the Frame decoder
// with the transport's limits: each is a frame, a typed error, or a
// kj::Exception caught at the decoding edge; nothing crashes.
TEST(frame_fuzz, hundred_thousand_mutated_frames) {
  auto seeds = seed_frames();
  std::mt19937_64 rng{20261122};
  size_t frames = 0, errors = 0, decode_errors = 0;
  constexpr size_t iterations = 100000;
  for (size_t i = 0; i < iterations; ++i) {
    auto bytes = seeds[i % seeds.size()];
    auto mutations = 1 + rng() % 8;
    for (size_t m = 0; m < mutations; ++m) {
      switch (rng() % 4) {
      case 0: // flip a byte
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
        break;
      case 1: // truncate
        bytes.resize(rng() % bytes.size() + 1);
        break;
      case 2: { // overwrite a word with a large number (lying sizes)
        if (bytes.size() < 4)
          break;
        auto pos = (rng() % (bytes.size() / 4)) * 4;
        uint32_t big = static_cast<uint32_t>(rng() | 0x80000000u);
        std::memcpy(bytes.data() + pos, &big, 4);
        break;
      }
      default: // append junk
        bytes.push_back(static_cast<char>(rng()));
      }
    }
    frame_reader reader{1 << 20};
    auto res = reader.feed(bytes.data(), bytes.size());
    if (!res) {
      ++errors;
      continue;
    }
    for (auto& f : *res) {
      ++frames;
      try {
        capnp::SegmentArrayMessageReader r(
            kj::arrayPtr(f.segments.data(), f.segments.size()),
            reader_limits{}.options());
        touch(r.getRoot<wire::Frame>());
      } catch (const kj::Exception&) {
        ++decode_errors;
      }
    }
  }
  EXPECT_GT(frames, 0u);
  EXPECT_GT(errors, 0u);
  RecordProperty("frames", static_cast<int>(frames));
  RecordProperty("framing_errors", static_cast<int>(errors));
  RecordProperty("decode_errors", static_cast<int>(decode_errors));
}

#include "runtime/transport/frame_reader.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/transport/frame_writer.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace colony;

namespace {

std::vector<char> framed(capnp::MessageBuilder& msg) {
  std::vector<char> out;
  write_frame(msg, [&](const void* p, size_t n) {
    auto* c = static_cast<const char*>(p);
    out.insert(out.end(), c, c + n);
  });
  return out;
}

std::vector<char> heartbeat_frame(uint64_t ns) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<wire::Frame>().initHeartbeat().setSentAtNs(ns);
  return framed(msg);
}

uint64_t heartbeat_of(const received_frame& f) {
  capnp::SegmentArrayMessageReader reader(
      kj::arrayPtr(f.segments.data(), f.segments.size()));
  return reader.getRoot<wire::Frame>().getHeartbeat().getSentAtNs();
}

} // namespace

TEST(frame_reader, parses_frames_fed_byte_by_byte) {
  auto a = heartbeat_frame(1), b = heartbeat_frame(2);
  a.insert(a.end(), b.begin(), b.end());
  frame_reader reader{1 << 20};
  std::vector<received_frame> frames;
  for (char c : a) {
    auto res = reader.feed(&c, 1);
    ASSERT_TRUE(res) << describe(res.error());
    for (auto& f : *res)
      frames.push_back(std::move(f));
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(heartbeat_of(frames[0]), 1u);
  EXPECT_EQ(heartbeat_of(frames[1]), 2u);
}

TEST(frame_reader, multi_segment_frame_with_external_body) {
  std::vector<capnp::word> body(1000);
  std::memset(body.data(), 7, body.size() * sizeof(capnp::word));
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::Frame>().initRequest();
  req.setService("svc");
  auto bytes = kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()),
                            body.size() * sizeof(capnp::word));
  req.adoptBody(msg.getOrphanage().referenceExternalData(bytes));
  auto wire_bytes = framed(msg);
  frame_reader reader{1 << 20};
  auto res = reader.feed(wire_bytes.data(), wire_bytes.size());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->size(), 1u);
  auto& f = res->front();
  EXPECT_GE(f.segments.size(), 2u);
  capnp::SegmentArrayMessageReader r(
      kj::arrayPtr(f.segments.data(), f.segments.size()));
  auto got = r.getRoot<wire::Frame>().getRequest();
  EXPECT_EQ(std::string(got.getService().cStr()), "svc");
  ASSERT_EQ(got.getBody().size(), bytes.size());
  EXPECT_EQ(std::memcmp(got.getBody().begin(), bytes.begin(), bytes.size()), 0);
}

TEST(frame_reader, refuses_oversized_claim_before_allocating) {
  // One segment claiming 2^32-1 words (32 GiB): refused from 8 bytes.
  char header[8];
  uint32_t count = 0, words = 0xFFFFFFFFu;
  std::memcpy(header, &count, 4);
  std::memcpy(header + 4, &words, 4);
  frame_reader reader{4 << 20};
  auto res = reader.feed(header, sizeof(header));
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::too_large));
}

TEST(frame_reader, refuses_too_many_segments_and_empty_frames) {
  char header[8] = {};
  uint32_t count = 500;
  std::memcpy(header, &count, 4);
  frame_reader reader{4 << 20};
  auto res = reader.feed(header, sizeof(header));
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::malformed));
  char empty[8] = {};
  frame_reader reader2{4 << 20};
  auto res2 = reader2.feed(empty, sizeof(empty));
  ASSERT_FALSE(res2);
  EXPECT_TRUE(is_error(res2.error(), errc::malformed));
}

TEST(frame_reader, check_flat_message_validates_table) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<wire::Frame>().initHeartbeat().setSentAtNs(5);
  auto bytes = framed(msg);
  EXPECT_FALSE(check_flat_message(bytes.data(), bytes.size(), 1 << 20));
  EXPECT_TRUE(
      is_error(check_flat_message(bytes.data(), bytes.size() - 8, 1 << 20),
               errc::malformed));
  EXPECT_TRUE(
      is_error(check_flat_message(bytes.data(), 5, 1 << 20), errc::malformed));
  EXPECT_TRUE(is_error(check_flat_message(bytes.data(), bytes.size(), 8),
                       errc::too_large));
}

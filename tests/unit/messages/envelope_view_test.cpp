// A body handed on by the transport is a view into its frame's buffer
// (envelope::view). Found by tests/fuzz/frame_fuzz.cpp under UBSan: a
// request whose body is absent (a null pointer, total size 0) gave a view
// whose data() was computed from the null pointer, outside the buffer.

#include "messages/envelope.hpp"
#include "messages/wire.capnp.h"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/frame_writer.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace colony;

namespace {

/// The one frame of a Request with `body` (none if empty), as received.
received_frame received_request(const std::string& body) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::Frame>().initRequest();
  req.setService("echo");
  req.setTotalBytes(body.size());
  if (!body.empty())
    req.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()),
                             body.size()));
  std::vector<char> bytes;
  write_frame(msg, [&](const void* p, size_t n) {
    auto* c = static_cast<const char*>(p);
    bytes.insert(bytes.end(), c, c + n);
  });
  frame_reader reader{1 << 20};
  auto frames = reader.feed(bytes.data(), bytes.size());
  EXPECT_TRUE(frames && frames->size() == 1);
  return std::move(frames->front());
}

} // namespace

TEST(envelope_view, absent_body_is_an_empty_view_of_the_buffer) {
  auto frame = received_request("");
  capnp::SegmentArrayMessageReader reader(
      kj::arrayPtr(frame.segments.data(), frame.segments.size()));
  auto body = reader.getRoot<wire::Frame>().getRequest().getBody();
  ASSERT_EQ(body.size(), 0u);
  auto env = envelope::view(frame.buffer, body.begin(), body.size());
  EXPECT_EQ(env.size(), 0u);
  EXPECT_EQ(env.data(), frame.buffer->data());
  EXPECT_EQ(env.words().size(), 0u);
  EXPECT_EQ(env.buffer(), frame.buffer);
}

TEST(envelope_view, body_is_viewed_in_place) {
  auto frame = received_request("twelve bytes");
  capnp::SegmentArrayMessageReader reader(
      kj::arrayPtr(frame.segments.data(), frame.segments.size()));
  auto body = reader.getRoot<wire::Frame>().getRequest().getBody();
  auto env = envelope::view(frame.buffer, body.begin(), body.size());
  ASSERT_EQ(env.size(), 12u);
  EXPECT_EQ(static_cast<const void*>(env.data()),
            static_cast<const void*>(body.begin()));
  EXPECT_EQ(std::memcmp(env.data(), "twelve bytes", 12), 0);
}

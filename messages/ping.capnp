@0xecdf722eb1f706f7;
# Body of the built-in `ping` service.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

struct PingRequest {
  payload @0 :Data;        # echoed back, so a ping can also measure bulk
  sentAtNs @1 :UInt64;     # caller's clock, echoed back
  echoPayload @2 :Bool;    # false: answer with the byte count only
}

struct PingResponse {
  payload @0 :Data;
  sentAtNs @1 :UInt64;
  peerId @2 :Text;         # who answered
  receivedBytes @3 :UInt64;
}

@0x85fae9bbea39ced7;
# colony's wire: every frame between two nodes is one `Frame` message in
# Cap'n Proto's standard stream framing (segment table, then segments).
# A receiver checks the segment table against its max_frame_bytes before it
# allocates anything. Any Cap'n Proto implementation can speak this wire.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

const protocolVersion :UInt32 = 1;

struct Frame {
  union {
    hello @0 :Hello;
    proof @1 :Proof;
    request @2 :Request;
    response @3 :Response;
    part @4 :Part;
    error @5 :RemoteError;
    cancel @6 :Cancel;
    heartbeat @7 :Heartbeat;
    goodbye @8 :Goodbye;
  }
}

# First frame of each side of a new connection.
struct Hello {
  protocolVersion @0 :UInt32;
  swarmId @1 :Text;        # peers of different swarms refuse each other
  publicKey @2 :Data;      # Ed25519, 32 bytes; the peer id derives from it
  nonce @3 :Data;          # 32 fresh random bytes the other side must sign
  listenPort @4 :UInt16;   # where the sender accepts connections; 0 = none
}

# Second frame of each side: proves possession of the Hello's key.
# signature = Ed25519 over "colony-handshake-v1" ++ receiver's nonce ++
# sender's public key ++ swarm id.
struct Proof {
  signature @0 :Data;
}

# A call. Bodies above the sender's part size travel as this frame (first
# part) followed by `Part` frames of the same call id, in order.
struct Request {
  callId @0 :UInt64;       # chosen by the caller, unique per connection side
  service @1 :Text;        # e.g. "ping", "dht", "expert/ffn.0.3"
  timeoutMs @2 :UInt32;    # time the caller will wait; the server may drop late work
  totalBytes @3 :UInt64;   # size of the whole body
  body @4 :Data;           # first part of the body (a flat Cap'n Proto message)
}

struct Response {
  callId @0 :UInt64;
  totalBytes @1 :UInt64;
  body @2 :Data;
}

# A further part of a request or response body.
struct Part {
  callId @0 :UInt64;
  isResponse @1 :Bool;
  data @2 :Data;
}

enum ErrorCode {
  unknown @0;
  unknownDtype @1;
  badShape @2;
  tooLarge @3;
  malformed @4;
  unsupportedCodec @5;
  unknownService @6;
  timeout @7;
  cancelled @8;
  disconnected @9;
  handshakeFailed @10;
  remoteError @11;
  badConfig @12;
  ioError @13;
  unreachable @14;
  invalidArgument @15;
  overloaded @16;
}

# The call failed on the server (or the frame that carried it was refused).
struct RemoteError {
  callId @0 :UInt64;
  hasCallId @1 :Bool;      # false: a connection-level complaint
  code @2 :ErrorCode;
  message @3 :Text;        # the server's words, shown to the caller
}

# The caller no longer wants the answer to `callId`.
struct Cancel {
  callId @0 :UInt64;
}

# Sent on idle connections; a peer silent past its timeout is dropped.
struct Heartbeat {
  sentAtNs @0 :UInt64;
  isReply @1 :Bool;
}

# The sender closes the connection on purpose and says why.
struct Goodbye {
  reason @0 :Text;
}

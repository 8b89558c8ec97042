@0xc599fb7634f76465;
# Decentralized averaging on colony's wire (actors/averaging): matchmaking
# through DHT group keys, butterfly all-reduce in parts, state download.
# Served under the transport service name `averager/<prefix>`.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

using import "tensor.capnp".Tensor;

# ---------------------------------------------------------------------------
# Matchmaking
# ---------------------------------------------------------------------------

# Averagers that look for a group declare themselves in the DHT under the
# group key `{prefix}.0b{group bits}`, subkey = their base58 peer id, value =
# a GroupDeclaration, expiring at their scheduled time T. Withdrawing stores
# `looking = false` with a slightly later expiration. A peer asks a declared
# peer to lead with `join`; once accepted it `awaitGroup`s the outcome (a
# call, so that client-mode peers, which cannot be called, learn it too).
# Limits: actors/averaging/matchmaking_codec.hpp and group_info.hpp.

struct GroupDeclaration {
  looking @0 :Bool;           # false: withdrawn
  address @1 :Text;           # HOST:PORT where the averager listens
}

enum PeerMode {
  node @0;                    # sends tensors and reduces a span
  client @1;                  # sends tensors; cannot be called, reduces none
  auxiliary @2;               # reduces a span; sends no tensors
}

struct PeerContact {
  peerId @0 :Text;            # base58 peer id
  address @1 :Text;           # HOST:PORT; empty in client mode
}

# What an averager's matchmaking serves. The caller's peer id is the one its
# transport authenticated; messages do not repeat it.
struct MatchmakingRequest {
  union {
    join @0 :JoinRequest;     # reply: JoinResponse
    awaitGroup @1 :Text;      # the group key; reply: LeaderMessage, sent
                              # when the callee assembles or disbands
    leave @2 :Text;           # the group key; the caller no longer follows
                              # the callee; reply: an empty MatchmakingAck
  }
}

struct JoinRequest {
  address @0 :Text;           # where the requester listens; empty in client mode
  schemaHash @1 :Data;        # identifies the averaged tensors
  groupKey @2 :Text;
  expiration @3 :Float64;     # the requester's scheduled time T (DHT time, s)
  mode @4 :PeerMode;
  bandwidth @5 :Float64;      # NaN: not stated
  gathered @6 :Data;          # the requester's bytes to gather, opaque
}

enum RefusalReason {
  notLookingForGroup @0;
  notDeclared @1;             # the callee cannot lead (client mode)
  badSchemaHash @2;
  badGroupKey @3;
  laterExpiration @4;         # the callee expires later: the caller leads
  notALeader @5;              # the callee follows suggestedLeader
  duplicatePeer @6;
  groupFull @7;
}

struct JoinResponse {
  union {
    accepted @0 :Void;
    refused @1 :RefusalReason;
  }
  suggestedLeader @2 :PeerContact;  # set only with notALeader
}

struct GroupMember {
  peer @0 :PeerContact;
  gathered @1 :Data;
  bandwidth @2 :Float64;      # NaN: not stated
  mode @3 :PeerMode;
}

# The leader's word to an accepted follower.
struct LeaderMessage {
  union {
    beginAllReduce @0 :BeginAllReduce;
    disbanded @1 :Disbanded;
  }
}

struct BeginAllReduce {
  groupId @0 :Data;           # 16 random bytes; seeds the next group bits
  members @1 :List(GroupMember); # the leader's shuffled order, leader included
}

struct Disbanded {
  suggestedLeader @0 :PeerContact;  # unset: ask the next candidate
}

struct MatchmakingAck {}

# ---------------------------------------------------------------------------
# All-reduce
# ---------------------------------------------------------------------------

# (all-reduce messages go here)

# ---------------------------------------------------------------------------
# State download
# ---------------------------------------------------------------------------

# (state download messages go here)

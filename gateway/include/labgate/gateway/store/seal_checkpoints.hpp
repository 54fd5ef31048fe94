#pragma once
// How the seal chain compares with checkpoints kept off the box (seal.hpp), one by one: what
// `verify` folds into its findings, for a page that shows each checkpoint beside its outcome.
// Apart from seal.hpp so that the many files that include the store need not see it.

#include <vector>

#include "labgate/gateway/store/seal.hpp"

namespace labgate::gateway::store::seal {

/// How the chain compares with one checkpoint.
enum class Reach {
  kReached,  ///< the chain holds that seal with the checkpoint's MAC
  kBeyond,   ///< the chain ends before that seal: the rows after the chain's end were deleted
  kDiffers,  ///< that seal has another MAC: the chain was rewritten from there
};
/// Stable lowercase name ("reached", "beyond", "differs").
const char* to_string(Reach reach);

/// One checkpoint and how the chain compares with it.
struct CheckpointCheck {
  Checkpoint checkpoint;
  Reach reach{Reach::kReached};
};

/// Each of `checkpoints` compared with `db`'s seal chain, in order. Reads only. A checkpoint
/// reached proves the record's tail only when `verify` also found the chain sound under the
/// verification key (verify calls this itself and reports the others as findings).
Result<std::vector<CheckpointCheck>> check_checkpoints(Database& db,
                                                       const std::vector<Checkpoint>& checkpoints);

}  // namespace labgate::gateway::store::seal

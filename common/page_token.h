// Page tokens for keyset pagination of "newest first" listings: the token is
// the (created_at, id) of the last row sent, opaque to callers.
#ifndef SAGAWORKS_COMMON_PAGE_TOKEN_H_
#define SAGAWORKS_COMMON_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sagaworks {

struct PageCursor {
  int64_t created_at_micros = 0;
  std::string id;
};

std::string EncodePageToken(const PageCursor& cursor);
// DecodePageToken answers INVALID_ARGUMENT for a token it did not issue.
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token);

// ClampPageSize maps 0 to the default (50) and refuses sizes outside
// [0, 500].
absl::StatusOr<int> ClampPageSize(int requested);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_PAGE_TOKEN_H_

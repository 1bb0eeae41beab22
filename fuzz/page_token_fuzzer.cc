// Fuzzes page tokens, which callers send back as they please: decoding
// never crashes, and whatever decodes encodes to a token that decodes to the
// same cursor.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sagaworks;
  const std::string token(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<PageCursor> cursor = DecodePageToken(token);
  if (!cursor.ok()) return 0;
  absl::StatusOr<PageCursor> again = DecodePageToken(EncodePageToken(*cursor));
  if (!again.ok() || again->created_at_micros != cursor->created_at_micros ||
      again->id != cursor->id) {
    abort();
  }
  return 0;
}

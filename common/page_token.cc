#include "common/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace sagaworks {

std::string EncodePageToken(const PageCursor& cursor) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1|", cursor.created_at_micros, "|", cursor.id));
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token) {
  std::string raw;
  const absl::Status bad =
      absl::InvalidArgumentError("page_token is not one this service issued");
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  absl::string_view rest = raw;
  if (rest.substr(0, 3) != "v1|") return bad;
  rest.remove_prefix(3);
  const size_t bar = rest.find('|');
  if (bar == absl::string_view::npos) return bad;
  PageCursor cursor;
  if (!absl::SimpleAtoi(rest.substr(0, bar), &cursor.created_at_micros)) {
    return bad;
  }
  cursor.id = std::string(rest.substr(bar + 1));
  if (!ValidateUuid("page_token", cursor.id).ok()) return bad;
  return cursor;
}

absl::StatusOr<int> ClampPageSize(int requested) {
  if (requested < 0 || requested > 500) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", requested, " is outside [0, 500]"));
  }
  return requested == 0 ? 50 : requested;
}

}  // namespace sagaworks

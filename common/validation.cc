#include "common/validation.h"

#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sagaworks {
namespace {

bool IsHex(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
}

// Utf8Length is the length of the well-formed UTF-8 character at s[i] (1-4
// bytes), or 0 when the bytes there are not one: a stray continuation byte,
// an overlong form, a surrogate (U+D800-DFFF, which PostgreSQL refuses), a
// code point past U+10FFFF, or a sequence cut short.
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto at = [&s](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Accepts well-formed UTF-8; rejects C0 controls and DEL.
bool IsCleanUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0 || (n == 1 && IsControl(static_cast<unsigned char>(s[i])))) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

std::string CleanText(absl::string_view text, size_t max_bytes) {
  constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Length(text, i);
    absl::string_view piece = text.substr(i, n);
    if (n == 0) {
      piece = kReplacement;
      n = 1;
    } else if (n == 1 && IsControl(static_cast<unsigned char>(text[i]))) {
      piece = text[i] == '\n' || text[i] == '\t' ? " " : kReplacement;
    }
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece.data(), piece.size());
    i += n;
  }
  return out;
}

absl::Status AddLineTotal(int64_t unit_price_cents, int64_t quantity,
                          int64_t* total_cents) {
  int64_t line = 0;
  if (unit_price_cents < 0 || quantity < 0 ||
      __builtin_mul_overflow(unit_price_cents, quantity, &line) ||
      __builtin_add_overflow(*total_cents, line, total_cents)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the order's total would exceed ", INT64_MAX, " cents (a price of ",
        unit_price_cents, " cents times ", quantity, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUuid(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  bool ok = value.size() == 36;
  for (size_t i = 0; ok && i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? value[i] == '-' : IsHex(value[i]);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " '", value.substr(0, kMaxIdLength),
        "' is not a UUID (like 123e4567-e89b-12d3-a456-426614174000)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateName(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " characters; at most ", kMaxIdLength));
  }
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " may contain only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view value,
                          bool required) {
  if (required && absl::StripAsciiWhitespace(value).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > kMaxTextLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " bytes; at most ", kMaxTextLength));
  }
  if (!IsCleanUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be UTF-8 text without control characters"));
  }
  return absl::OkStatus();
}

absl::Status ValidateItems(
    const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
  if (items.empty()) {
    return absl::InvalidArgumentError("items: at least one item is required");
  }
  if (items.size() > kMaxOrderItems) {
    return absl::InvalidArgumentError(absl::StrCat(
        "items: ", items.size(), " items; at most ", kMaxOrderItems));
  }
  std::set<std::string> seen;
  for (int i = 0; i < items.size(); ++i) {
    const v1::OrderItem& item = items[i];
    const std::string where = absl::StrCat("items[", i, "]");
    if (absl::Status s = ValidateName(absl::StrCat(where, ".sku"), item.sku());
        !s.ok()) {
      return s;
    }
    if (item.quantity() < 1 || item.quantity() > kMaxItemQuantity) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".quantity is ", item.quantity(),
                       "; it must be between 1 and ", kMaxItemQuantity));
    }
    if (!seen.insert(item.sku()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".sku '", item.sku(),
                       "' appears more than once; give each SKU one line"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(const v1::Address& address) {
  struct Field {
    const char* name;
    const std::string& value;
  };
  for (const Field& f :
       {Field{"shipping_address.name", address.name()},
        Field{"shipping_address.line1", address.line1()},
        Field{"shipping_address.city", address.city()},
        Field{"shipping_address.postal_code", address.postal_code()}}) {
    if (absl::Status s = ValidateText(f.name, f.value, /*required=*/true);
        !s.ok()) {
      return s;
    }
  }
  const std::string& country = address.country();
  if (country.size() != 2 || !absl::ascii_isupper(country[0]) ||
      !absl::ascii_isupper(country[1])) {
    return absl::InvalidArgumentError(
        "shipping_address.country must be a two-letter ISO code such as "
        "\"DE\"");
  }
  return absl::OkStatus();
}

absl::Status ValidateCancel(absl::string_view order_id,
                            absl::string_view reason) {
  if (absl::Status s = ValidateUuid("order_id", order_id); !s.ok()) return s;
  return ValidateText("reason", reason, /*required=*/false);
}

}  // namespace sagaworks

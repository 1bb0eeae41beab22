#include "common/page_token.h"

#include "gtest/gtest.h"

namespace sagaworks {
namespace {

TEST(PageTokenTest, RoundTripsAndRefusesForgeries) {
  PageCursor c{1700000000123456, "123e4567-e89b-12d3-a456-426614174000"};
  absl::StatusOr<PageCursor> back = DecodePageToken(EncodePageToken(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->created_at_micros, c.created_at_micros);
  EXPECT_EQ(back->id, c.id);
  EXPECT_EQ(DecodePageToken("garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(DecodePageToken(EncodePageToken({1, "'; DROP TABLE"})).ok());
}

TEST(PageTokenTest, PageSizeDefaultsAndBounds) {
  EXPECT_EQ(*ClampPageSize(0), 50);
  EXPECT_EQ(*ClampPageSize(500), 500);
  EXPECT_FALSE(ClampPageSize(501).ok());
  EXPECT_FALSE(ClampPageSize(-1).ok());
}

}  // namespace
}  // namespace sagaworks

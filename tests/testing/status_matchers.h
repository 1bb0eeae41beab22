// Small helpers for asserting on absl::Status in tests.
#ifndef SAGAWORKS_TESTS_TESTING_STATUS_MATCHERS_H_
#define SAGAWORKS_TESTS_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#define SW_ASSERT_OK(expr)                                 \
  do {                                                     \
    const absl::Status sw_status_ = (expr);                \
    ASSERT_TRUE(sw_status_.ok()) << sw_status_.ToString(); \
  } while (0)

#define SW_EXPECT_OK(expr)                                 \
  do {                                                     \
    const absl::Status sw_status_ = (expr);                \
    EXPECT_TRUE(sw_status_.ok()) << sw_status_.ToString(); \
  } while (0)

namespace sagaworks::testing {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_STATUS_MATCHERS_H_

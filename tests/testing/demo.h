// Request parts the tests build again and again.
#ifndef SAGAWORKS_TESTS_TESTING_DEMO_H_
#define SAGAWORKS_TESTS_TESTING_DEMO_H_

#include <string>

#include "sagaworks/v1/common.pb.h"

namespace sagaworks::testing {

// DemoAddress is a deliverable address, or one in `country` ("ZZ" is
// refused by shipping).
inline v1::Address DemoAddress(const std::string& country = "DE") {
  v1::Address a;
  a.set_name("Alice Example");
  a.set_line1("1 Main St");
  a.set_city("Berlin");
  a.set_postal_code("10115");
  a.set_country(country);
  return a;
}

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_DEMO_H_

// For tests of entry checks: did a call fail with TORCH_CHECK's c10::Error, and does its message say what a user
// needs (the function's name, the shape it got)?
#pragma once
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

#include <c10/util/Exception.h>

namespace vyolo::test {

// EXPECT_TRUE(torch_check_fails([&] { f(bad); }, {"f:", "[2, 5]"})): a c10::Error whose message (without backtrace)
// contains every part.
template <class F>
::testing::AssertionResult torch_check_fails(F&& f, std::initializer_list<const char*> parts) {
  try {
    f();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    for (const char* p : parts)
      if (msg.find(p) == std::string::npos) return ::testing::AssertionFailure() << "no '" << p << "' in: " << msg;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "not a c10::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error";
}

}  // namespace vyolo::test

// tests/test_main.cpp — the doctest runner: every tests/*.cpp links into build/tests/run_tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

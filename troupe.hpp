#pragma once
// Troupe: Erlang/OTP-style processes, supervisors, persistence and a
// WebSocket gateway for C++20. Include this one header.

#include "runtime/runtime.hpp"

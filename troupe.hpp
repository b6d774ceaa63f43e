#pragma once
// Troupe: Erlang/OTP-style processes, supervisors, persistence and a
// WebSocket gateway for C++20. Include this one header.

#include "cluster/node.hpp"
#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "net/gateway/session.hpp"
#include "net/ws/server.hpp"
#include "persist/awaitable_store.hpp"
#include "persist/file_store.hpp"
#include "persist/memory_store.hpp"
#include "persist/persistence.hpp"
#include "persist/persistent_map.hpp"
#include "persist/persistent_server.hpp"
#include "persist/persistent_state.hpp"
#include "persist/redis_store.hpp"
#include "persist/store_connection.hpp"
#include "runtime/log.hpp"
#include "runtime/runtime.hpp"
#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"

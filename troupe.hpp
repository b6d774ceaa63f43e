#pragma once
// Troupe: Erlang/OTP-style processes, supervisors, persistence and a
// WebSocket gateway for C++20. Include this one header.

#include "net/gateway.hpp"
#include "net/session.hpp"
#include "net/websocket_server.hpp"
#include "persist/actor_server.hpp"
#include "persist/actor_state.hpp"
#include "persist/actor_storage.hpp"
#include "persist/actor_store.hpp"
#include "persist/file_store.hpp"
#include "persist/memory_store.hpp"
#include "persist/redis_store.hpp"
#include "persist/store_client.hpp"
#include "runtime/runtime.hpp"
#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"

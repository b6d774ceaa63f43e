// The persist suite's real-redis-server and temporary-directory fixtures,
// compiled into this suite too (one home for them: test/persist/).
#include "test/persist/redis_server_fixture.cpp"
#include "test/persist/test_loop.cpp"

#pragma once
// A loopback TCP port for a test's server.

namespace troupe::test {

// A loopback TCP port nothing listens on at the time of the call (so that a
// server restarted by the test can bind the same one). Throws if none.
int free_port();

}  // namespace troupe::test

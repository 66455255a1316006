// A loopback port for tests that need one nobody listens on.
#ifndef TINYLM_TESTS_UNUSED_PORT_H_
#define TINYLM_TESTS_UNUSED_PORT_H_

namespace tinylm {

// A loopback port nothing listens on (bound, then released).
int UnusedPort();

}  // namespace tinylm

#endif  // TINYLM_TESTS_UNUSED_PORT_H_

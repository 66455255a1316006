// The port a --server target gets when it names none.
#include "client/rpc/target.h"

#include "gtest/gtest.h"

namespace tinylm {
namespace {

TEST(TargetTest, HostsAndAddressesWithoutAPortGetTheServersPort) {
  EXPECT_EQ(WithDefaultPort("localhost", 50051), "localhost:50051");
  EXPECT_EQ(WithDefaultPort("gpu-3.example.org", 50051),
            "gpu-3.example.org:50051");
  EXPECT_EQ(WithDefaultPort("10.0.0.2", 50051), "10.0.0.2:50051");
  EXPECT_EQ(WithDefaultPort("[::1]", 50051), "[::1]:50051");
  EXPECT_EQ(WithDefaultPort("[fe80::1%eth0]", 7), "[fe80::1%eth0]:7");
}

TEST(TargetTest, TargetsWithAPortStayAsTheyAre) {
  EXPECT_EQ(WithDefaultPort("localhost:8080", 50051), "localhost:8080");
  EXPECT_EQ(WithDefaultPort("10.0.0.2:1", 50051), "10.0.0.2:1");
  EXPECT_EQ(WithDefaultPort("[::1]:8080", 50051), "[::1]:8080");
}

TEST(TargetTest, UrisAndBareIpv6AddressesStayAsTheyAre) {
  for (const char* target :
       {"unix:/run/tinylm.sock", "unix:///run/tinylm.sock",
        "unix-abstract:tinylm", "dns:///tinylm.svc.cluster.local",
        "dns://8.8.8.8/tinylm.example.org", "ipv4:10.0.0.1:5,10.0.0.2:5",
        "ipv6:[::1]:50051", "vsock:3:50051", "xds:///tinylm", "::1", "fe80::1",
        ""}) {
    EXPECT_EQ(WithDefaultPort(target, 50051), target);
  }
}

}  // namespace
}  // namespace tinylm

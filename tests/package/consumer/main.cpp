// Packaging smoke test: micrograd's sanity check, through the installed (or add_subdirectory'd)
// scalargrad. Exits 0 only if the forward value and the gradient are right.
#include <scalargrad/scalargrad.hpp>

#include <cstdio>

int main() {
  scalargrad::Value x = -4.0;
  auto z = 2 * x + 2 + x;
  auto q = z.relu() + z * x;
  auto h = (z * z).relu();
  auto y = h + q + q * x;
  y.backward();

  std::printf("scalargrad %.*s: y.data() = %g (want -20), x.grad() = %g (want 46)\n",
              static_cast<int>(scalargrad::version.size()), scalargrad::version.data(), y.data(),
              x.grad());
  const bool ok = y.data() == -20.0 && x.grad() == 46.0;
  std::puts(ok ? "consumer: OK" : "consumer: FAILED");
  return ok ? 0 : 1;
}
